namespace DapperIpc.BindingGen;

/// <summary>What the header declares, with each C type already mapped to its C# spelling.</summary>
public sealed record HeaderModel(
    IReadOnlyList<EnumDef> Enums,
    IReadOnlyList<StructDef> Structs,
    IReadOnlyList<CallbackDef> Callbacks,
    IReadOnlyList<FunctionDef> Functions);

public sealed record EnumDef(string Name, IReadOnlyList<EnumMember> Members);

public sealed record EnumMember(string Name, long Value);

public sealed record StructDef(string Name, IReadOnlyList<FieldDef> Fields);

public sealed record FieldDef(string Name, string Type);

/// <summary>A function-pointer typedef; emitted as a one-field struct so it keeps its name.</summary>
public sealed record CallbackDef(string Name, string Return, IReadOnlyList<string> Parameters)
{
    public string PointerType => $"delegate* unmanaged<{string.Join(", ", Parameters.Append(Return))}>";
}

public sealed record FunctionDef(string Name, string Return, IReadOnlyList<ParameterDef> Parameters);

public sealed record ParameterDef(string Name, string Type);
