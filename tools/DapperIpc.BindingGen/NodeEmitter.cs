using System.Text;

namespace DapperIpc.BindingGen;

/// <summary>
/// Writes the header's constants and struct layouts for the Node package: lib/abi.generated.js
/// (plain data; lib/native.js hands the layouts to koffi) and the generated section of
/// index.d.ts, which declares the enums index.js exports.
/// </summary>
public static class NodeEmitter
{
    /// <summary>The enums index.js exports, by header name.</summary>
    private static readonly string[] Exported = ["dapper_ipc_status", "dapper_ipc_kind"];

    public static string Module(HeaderModel model)
    {
        var s = new StringBuilder();
        s.AppendLine("'use strict';");
        s.Append(Generator.Banner("//"));
        var names = new List<string>();
        foreach (EnumDef e in model.Enums)
        {
            string name = ObjectName(e);
            names.Add(name);
            s.AppendLine();
            s.AppendLine($"/** {e.Name}, by name. */");
            s.AppendLine($"const {name} = Object.freeze({{");
            foreach (EnumMember m in e.Members)
            {
                s.AppendLine($"  {e.ShortName(m)}: {m.Value},");
            }

            s.AppendLine("});");
        }

        s.AppendLine();
        s.AppendLine("/** Every struct of the header, field by field in order, with koffi's names for the C types. */");
        s.AppendLine("const structs = Object.freeze({");
        foreach (StructDef st in model.Structs)
        {
            s.AppendLine($"  {st.Name}: Object.freeze({{");
            foreach (var (f, opensLayout) in st.FieldsInLayouts())
            {
                if (opensLayout)
                {
                    s.AppendLine($"    // layout {f.Layout}: read by the library only when struct_size covers it");
                }

                // A function pointer field (a transport's ops) is a plain pointer to koffi.
                s.AppendLine($"    {f.Name}: '{(f.CType.Contains("(*)", StringComparison.Ordinal) ? "void *" : f.CType)}',");
            }

            s.AppendLine("  }),");
        }

        s.AppendLine("});");
        names.Add("structs");
        s.AppendLine();
        s.AppendLine($"module.exports = {{ {string.Join(", ", names)} }};");
        return s.ToString();
    }

    /// <summary>The declarations of the exported enums, for index.d.ts.</summary>
    public static string Declarations(HeaderModel model)
    {
        var s = new StringBuilder();
        foreach (EnumDef e in model.Enums.Where(e => Exported.Contains(e.Name)))
        {
            s.AppendLine($"/** {e.Name} of include/dapper_ipc.h, by name. */");
            s.AppendLine($"export declare const {ObjectName(e)}: Readonly<{{");
            foreach (EnumMember m in e.Members)
            {
                s.AppendLine($"  {e.ShortName(m)}: {m.Value};");
            }

            s.AppendLine("}>;");
        }

        return s.ToString();
    }

    /// <summary>dapper_ipc_log_level -> LogLevel.</summary>
    private static string ObjectName(EnumDef e) => Names.Pascal(e.Name["dapper_ipc_".Length..]);
}
