using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DapperIpc.BindingGen;
using static DapperIpc.AbiTests.Native.DapperIpcNative;

namespace DapperIpc.AbiTests;

/// <summary>
/// The header is the one source of the ABI's facts. The library's C# status enum and
/// config struct, its status strings, and the Python package's constants and ctypes
/// structures are copies generated from it (tools/DapperIpc.BindingGen) that a compiler
/// cannot check against it; these tests check that the generator got them right (the
/// repository test checks that they are regenerated).
/// </summary>
public partial class AbiCopiesTests
{
    private static readonly HeaderModel Header = HeaderParser.Parse(NativeLibraryLoader.HeaderPath);

    private static EnumDef HeaderEnum(string name) => Header.Enums.Single(e => e.Name == name);

    private static string Source(params string[] parts) => File.ReadAllText(Path.Combine([NativeLibraryLoader.RepoRoot, .. parts]));

    /// <summary>DAPPER_IPC_E_INVALID_ARGUMENT -> InvalidArgument; DAPPER_IPC_OK -> Ok.</summary>
    private static string Pascal(string constant, string prefix)
        => string.Concat(constant[prefix.Length..].Split('_').Select(w => w[0] + w[1..].ToLowerInvariant()));

    private static string Short(string constant) => Regex.Replace(constant, "^DAPPER_IPC_(E_)?", "");

    [Fact]
    public void The_library_status_enum_has_exactly_the_header_statuses()
    {
        var header = HeaderEnum("dapper_ipc_status").Members
            .ToDictionary(m => Pascal(Short(m.Name), ""), m => m.Value);
        string source = Source("src", "DapperIpc.Native", "Generated", "Abi.g.cs");
        string body = source[source.IndexOf("enum IpcStatus", StringComparison.Ordinal)..];
        body = body[..body.IndexOf('}', StringComparison.Ordinal)];
        var csharp = EnumMembers().Matches(body)
            .ToDictionary(m => m.Groups[1].Value, m => long.Parse(m.Groups[2].Value));
        Assert.Equal(header.OrderBy(p => p.Key), csharp.OrderBy(p => p.Key));
    }

    [Fact]
    public unsafe void Every_header_status_has_a_string_of_its_own_and_nothing_else_has_one()
    {
        var seen = new HashSet<string>();
        foreach (EnumMember status in HeaderEnum("dapper_ipc_status").Members)
        {
            string text = Marshal.PtrToStringUTF8((nint)dapper_ipc_status_string((int)status.Value))!;
            Assert.True(text != "unknown status", $"{status.Name} has no string in the library");
            Assert.True(seen.Add(text), $"{status.Name} shares its string \"{text}\" with another status");
        }

        Assert.Equal("unknown status", Marshal.PtrToStringUTF8((nint)dapper_ipc_status_string(-98)));
    }

    [Fact]
    public void The_library_config_struct_has_the_header_fields_in_order_with_the_same_types()
    {
        StructDef config = Header.Structs.Single(s => s.Name == "dapper_ipc_config");
        var header = config.Fields.Select(f => (Pascal(f.Name.ToUpperInvariant(), ""), f.Type)).ToList();
        string source = Source("src", "DapperIpc.Native", "Generated", "Abi.g.cs");
        string body = source[source.IndexOf("struct NativeConfig", StringComparison.Ordinal)..];
        body = body[..body.IndexOf(" static ", StringComparison.Ordinal)];
        var csharp = StructFields().Matches(body).Select(m => (m.Groups[2].Value, m.Groups[1].Value)).ToList();
        Assert.Equal(header, csharp);
    }

    [Fact]
    public void The_python_package_has_the_header_constants_and_struct_layouts()
    {
        // What the Python package declares, as Python sees it (ctypes computes the offsets).
        const string dump = """
            import ctypes, json
            from dapper_ipc import _native as n
            consts = {k: v for k, v in vars(n).items() if k.isupper() and isinstance(v, int) and not isinstance(v, bool)}
            structs = {}
            for name, cls in (("dapper_ipc_manager", n.Manager), ("dapper_ipc_session_listener", n.SessionListener), ("dapper_ipc_frame", n.Frame), ("dapper_ipc_config", n.Config), ("dapper_ipc_stats", n.Stats), ("dapper_ipc_transport_ops", n.TransportOps)):
                structs[name] = {"size": ctypes.sizeof(cls), "fields": [[f[0], getattr(cls, f[0]).offset] for f in cls._fields_]}
            print(json.dumps({"consts": consts, "structs": structs}))
            """;
        string output = StructLayoutTests.Run("python3", ["-c", dump],
            new Dictionary<string, string?> { ["PYTHONPATH"] = Path.Combine(NativeLibraryLoader.RepoRoot, "python", "src") });
        using JsonDocument python = JsonDocument.Parse(output);
        JsonElement consts = python.RootElement.GetProperty("consts");

        var prefixes = new Dictionary<string, string>
        {
            ["dapper_ipc_status"] = "", ["dapper_ipc_kind"] = "KIND_", ["dapper_ipc_event"] = "EVENT_",
            ["dapper_ipc_flags"] = "FLAG_", ["dapper_ipc_log_level"] = "LOG_", ["dapper_ipc_state"] = "STATE_",
            ["dapper_ipc_adopt_flags"] = "ADOPT_",
        };
        foreach (var (enumName, prefix) in prefixes)
        {
            foreach (EnumMember m in HeaderEnum(enumName).Members)
            {
                string name = m.Name["DAPPER_IPC_".Length..];
                name = enumName == "dapper_ipc_status" ? name : prefix + name[(name.IndexOf('_') + 1)..];
                Assert.True(consts.TryGetProperty(name, out JsonElement value), $"python/_native.py lacks {name} ({m.Name})");
                Assert.True(value.GetInt64() == m.Value, $"{name} is {value} in Python, {m.Value} in the header");
            }
        }

        var program = new StringBuilder("#include <stddef.h>\n#include <stdio.h>\n#include \"dapper_ipc.h\"\nint main(void) {\n");
        foreach (StructDef s in Header.Structs)
        {
            program.AppendLine($"  printf(\"{s.Name} %zu\\n\", sizeof({s.Name}));");
            foreach (FieldDef f in s.Fields)
            {
                program.AppendLine($"  printf(\"{s.Name}.{f.Name} %zu\\n\", offsetof({s.Name}, {f.Name}));");
            }
        }

        Dictionary<string, long> c = StructLayoutTests.RunC(program.Append("  return 0;\n}\n").ToString());
        JsonElement structs = python.RootElement.GetProperty("structs");
        foreach (StructDef s in Header.Structs)
        {
            Assert.True(structs.TryGetProperty(s.Name, out JsonElement py), $"the Python package has no ctypes structure for {s.Name}");
            Assert.Equal(c[s.Name], py.GetProperty("size").GetInt64());
            var pyFields = py.GetProperty("fields").EnumerateArray().Select(f => (f[0].GetString()!, f[1].GetInt64())).ToList();
            Assert.Equal(s.Fields.Select(f => (f.Name, c[$"{s.Name}.{f.Name}"])).ToList(), pyFields);
        }
    }

    [GeneratedRegex(@"^\s*(\w+)\s*=\s*(-?\d+),", RegexOptions.Multiline)]
    private static partial Regex EnumMembers();

    [GeneratedRegex(@"^\s*public\s+([\w*]+)\s+(\w+);", RegexOptions.Multiline)]
    private static partial Regex StructFields();
}
