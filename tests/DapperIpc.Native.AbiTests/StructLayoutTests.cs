using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using DapperIpc.AbiTests.Native;
using DapperIpc.BindingGen;

namespace DapperIpc.AbiTests;

public class StructLayoutTests
{
    /// <summary>Every struct of the header: the C compiler's sizeof/offsetof against the generated C# layout.</summary>
    [Fact]
    public void Generated_struct_sizes_and_field_offsets_match_the_C_compiler()
    {
        HeaderModel model = HeaderParser.Parse(NativeLibraryLoader.HeaderPath);
        var program = new StringBuilder("#include <stddef.h>\n#include <stdio.h>\n#include \"dapper_ipc.h\"\nint main(void) {\n");
        foreach (StructDef s in model.Structs)
        {
            program.AppendLine($"  printf(\"{s.Name} %zu\\n\", sizeof({s.Name}));");
            foreach (FieldDef f in s.Fields)
            {
                program.AppendLine($"  printf(\"{s.Name}.{f.Name} %zu\\n\", offsetof({s.Name}, {f.Name}));");
            }
        }

        program.AppendLine("  return 0;\n}");
        Dictionary<string, long> c = RunC(program.ToString());

        foreach (StructDef s in model.Structs)
        {
            Type type = typeof(DapperIpcNative).Assembly.GetType($"{Generator.Namespace}.{s.Name}")!;
            Assert.Equal(c[s.Name], Marshal.SizeOf(type));
            foreach (FieldDef f in s.Fields)
            {
                Assert.True(c[$"{s.Name}.{f.Name}"] == (long)Marshal.OffsetOf(type, f.Name), $"offset of {s.Name}.{f.Name}");
            }
        }

        Assert.Equal(Marshal.SizeOf<dapper_ipc_config>(), (int)c["dapper_ipc_config"]);
    }

    internal static Dictionary<string, long> RunC(string source)
    {
        string dir = Directory.CreateTempSubdirectory("dapper-layout-").FullName;
        try
        {
            string file = Path.Combine(dir, "layout.c"), exe = Path.Combine(dir, "layout" + ExeSuffix);
            File.WriteAllText(file, source);
            Run(CCompiler, ["-std=c99", "-I", Path.Combine(NativeLibraryLoader.RepoRoot, "include"), file, "-o", exe]);
            return Run(exe, []).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(' '))
                .ToDictionary(p => p[0], p => long.Parse(p[1]));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The C compiler: $CC, else cc (gcc on Windows, where the runners' mingw-w64 has no cc).</summary>
    internal static string CCompiler => Environment.GetEnvironmentVariable("CC") is { Length: > 0 } cc ? cc
        : OperatingSystem.IsWindows() ? "gcc" : "cc";

    internal static string ExeSuffix => OperatingSystem.IsWindows() ? ".exe" : "";

    internal static string Run(string file, string[] args, IDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            start.Environment[key] = value;
        }

        var p = Process.Start(start)!;
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} failed: {error}");
        return output;
    }
}
