using System.Text;

namespace DapperIpc.BindingGen;

/// <summary>
/// Writes the header's constants and structs as Python (ctypes): the package's _abi.py, and
/// the generated section of samples/python/sample.py, which stays a standalone script.
/// </summary>
public static class PythonEmitter
{
    /// <summary>python/src/dapper_ipc/_abi.py: the statuses as an IntEnum, also under their constant names.</summary>
    public static string Module(HeaderModel model)
    {
        var s = new StringBuilder();
        s.Append(Generator.Banner("#"));
        s.AppendLine("\"\"\"The constants and structs of include/dapper_ipc.h, for ctypes.\"\"\"");
        s.AppendLine();
        s.AppendLine("import ctypes");
        s.AppendLine("import enum");
        s.AppendLine();
        var names = new List<string>();
        Body(s, model, statusEnum: true, names);
        s.AppendLine();
        s.AppendLine();
        s.AppendLine("__all__ = [");
        foreach (string name in names)
        {
            s.AppendLine($"    \"{name}\",");
        }

        s.AppendLine("]");
        return s.ToString();
    }

    /// <summary>The section of a standalone script: plain integers, and the script's own `import ctypes`.</summary>
    public static string Section(HeaderModel model)
    {
        var s = new StringBuilder();
        Body(s, model, statusEnum: false, []);
        return s.ToString();
    }

    private static void Body(StringBuilder s, HeaderModel model, bool statusEnum, List<string> names)
    {
        foreach (EnumDef e in model.Enums)
        {
            if (statusEnum && e.Name == "dapper_ipc_status")
            {
                s.AppendLine();
                s.AppendLine("class Status(enum.IntEnum):");
                s.AppendLine("    \"\"\"dapper_ipc_status: zero is success, every error is negative. An error's status is one of these.\"\"\"");
                s.AppendLine();
                foreach (EnumMember m in e.Members)
                {
                    s.AppendLine($"    {EnumDef.Unprefixed(m.Name)} = {m.Value}");
                }

                s.AppendLine();
                s.AppendLine();
                names.Add("Status");
                foreach (EnumMember m in e.Members)
                {
                    string name = EnumDef.Unprefixed(m.Name);
                    s.AppendLine($"{name} = Status.{name}");
                    names.Add(name);
                }

                continue;
            }

            s.AppendLine();
            s.AppendLine($"# {e.Name}");
            foreach (EnumMember m in e.Members)
            {
                string name = EnumDef.Unprefixed(m.Name);
                s.AppendLine($"{name} = {m.Value}");
                names.Add(name);
            }
        }

        foreach (StructDef st in model.Structs)
        {
            string name = Names.Pascal(st.Name["dapper_ipc_".Length..]);
            names.Add(name);
            s.AppendLine();
            s.AppendLine();
            s.AppendLine($"class {name}(ctypes.Structure):");
            s.AppendLine($"    \"\"\"{st.Name}.\"\"\"");
            s.AppendLine();
            if (st.Fields.Count == 1)
            {
                s.AppendLine($"    _fields_ = [(\"{st.Fields[0].Name}\", {CType(st.Fields[0].CType)})]");
                continue;
            }

            s.AppendLine("    _fields_ = [");
            foreach (var (f, opensLayout) in st.FieldsInLayouts())
            {
                if (opensLayout)
                {
                    s.AppendLine($"        # layout {f.Layout}: read by the library only when struct_size covers it");
                }

                s.AppendLine($"        (\"{f.Name}\", {CType(f.CType)}),");
            }

            s.AppendLine("    ]");
        }
    }

    private static string CType(string c)
    {
        string t = c.Replace("const ", "", StringComparison.Ordinal).Trim();
        return t switch
        {
            "int8_t" => "ctypes.c_int8",
            "uint8_t" => "ctypes.c_uint8",
            "int16_t" => "ctypes.c_int16",
            "uint16_t" => "ctypes.c_uint16",
            "int32_t" => "ctypes.c_int32",
            "uint32_t" => "ctypes.c_uint32",
            "int64_t" => "ctypes.c_int64",
            "uint64_t" => "ctypes.c_uint64",
            "size_t" or "uintptr_t" => "ctypes.c_size_t",
            "intptr_t" => "ctypes.c_ssize_t",
            "char *" => "ctypes.c_char_p",
            _ when t.EndsWith('*') => "ctypes.c_void_p",
            _ when t.Contains("(*)", StringComparison.Ordinal) => "ctypes.c_void_p", // a function pointer (a transport's ops)
            _ => throw new NotSupportedException($"no ctypes mapping for the C type '{c}'"),
        };
    }
}
