using System.Text.RegularExpressions;

namespace DapperIpc.BindingGen;

/// <summary>What the header declares, with each C type already mapped to its C# spelling.</summary>
public sealed record HeaderModel(
    IReadOnlyList<EnumDef> Enums,
    IReadOnlyList<StructDef> Structs,
    IReadOnlyList<CallbackDef> Callbacks,
    IReadOnlyList<FunctionDef> Functions)
{
    public EnumDef Enum(string name) => Enums.Single(e => e.Name == name);

    public StructDef Struct(string name) => Structs.Single(s => s.Name == name);
}

public sealed record EnumDef(string Name, IReadOnlyList<EnumMember> Members)
{
    /// <summary>
    /// A member's name without DAPPER_IPC_ and the word every member of this enum starts
    /// with (KIND_EVENT -> EVENT, FLAG_REQUIRE_AUTH -> REQUIRE_AUTH); the status codes share
    /// none, so E_ stays.
    /// </summary>
    public string ShortName(EnumMember member)
    {
        string first = Unprefixed(Members[0].Name);
        int end = first.IndexOf('_') + 1;
        bool shared = end > 0 && Members.All(m => Unprefixed(m.Name).StartsWith(first[..end], StringComparison.Ordinal));
        return Unprefixed(member.Name)[(shared ? end : 0)..];
    }

    /// <summary>DAPPER_IPC_E_TIMEOUT -> E_TIMEOUT: the name the bindings have always used for a constant.</summary>
    public static string Unprefixed(string constant)
        => constant.StartsWith("DAPPER_IPC_", StringComparison.Ordinal) ? constant["DAPPER_IPC_".Length..] : constant;
}

/// <summary>An enumerator, with the comment the header puts above it (or null).</summary>
public sealed partial record EnumMember(string Name, long Value, string? Comment = null)
{
    /// <summary>The quoted words that open the comment (<c>/* "invalid argument": ...</c>), or null.</summary>
    public string? Quoted => Comment is null ? null : QuotedOpening().Match(Comment) is { Success: true } m ? m.Groups[1].Value : null;

    [GeneratedRegex("""^/\*\s*"([^"]+)"(?::|\s*\*/)""")]
    private static partial Regex QuotedOpening();
}

/// <summary>
/// A struct. Each field carries the layout it arrived in: 0 for the struct's first layout,
/// then one more at every <c>/* ---- added ...</c> line between fields in the header.
/// </summary>
public sealed record StructDef(string Name, IReadOnlyList<FieldDef> Fields)
{
    public IReadOnlyList<IReadOnlyList<FieldDef>> Layouts
        => Fields.GroupBy(f => f.Layout).OrderBy(g => g.Key).Select(g => (IReadOnlyList<FieldDef>)g.ToList()).ToList();

    /// <summary>The fields in order, each with whether it is the first of a layout after the first one.</summary>
    public IEnumerable<(FieldDef Field, bool OpensLayout)> FieldsInLayouts()
        => Fields.Select((f, i) => (f, i > 0 && f.Layout != Fields[i - 1].Layout));
}

/// <summary>A field: <see cref="Type"/> is its C# spelling, <see cref="CType"/> the header's ("const char *").</summary>
public sealed record FieldDef(string Name, string Type, string CType = "", int Layout = 0);

/// <summary>A function-pointer typedef; emitted as a one-field struct so it keeps its name.</summary>
public sealed record CallbackDef(string Name, string Return, IReadOnlyList<string> Parameters)
{
    public string PointerType => $"delegate* unmanaged<{string.Join(", ", Parameters.Append(Return))}>";
}

public sealed record FunctionDef(string Name, string Return, IReadOnlyList<ParameterDef> Parameters);

public sealed record ParameterDef(string Name, string Type);
