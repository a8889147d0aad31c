using System.Diagnostics;
using System.Runtime.InteropServices;
using DapperIpc.AbiTests.Native;
using DapperIpc.BindingGen;

namespace DapperIpc.AbiTests;

/// <summary>The header, the generated bindings and the library's exports cannot drift apart.</summary>
public class HeaderExportAgreementTests
{
    private static string CheckedIn => Path.Combine(NativeLibraryLoader.RepoRoot, "tests", "DapperIpc.Native.AbiTests", "Generated", "DapperIpcBindings.g.cs");

    [Fact]
    public void The_checked_in_bindings_are_what_the_generator_makes_of_the_header()
    {
        string fresh = Generator.Generate(NativeLibraryLoader.HeaderPath);
        Assert.True(fresh == File.ReadAllText(CheckedIn),
            $"Generated/DapperIpcBindings.g.cs is stale: run `{Generator.Command}` at the repository's root");
    }

    [Fact]
    public void Every_function_the_header_declares_is_exported_by_the_library()
    {
        var missing = MissingExports(HeaderParser.Parse(NativeLibraryLoader.HeaderPath));
        Assert.Empty(missing);
    }

    [Fact]
    public void Every_dapper_ipc_symbol_the_library_exports_is_declared_in_the_header()
    {
        var declared = HeaderParser.Parse(NativeLibraryLoader.HeaderPath).Functions.Select(f => f.Name).ToHashSet();
        var exported = ExportedSymbols();
        Assert.NotEmpty(exported);
        var undeclared = exported.Where(e => !declared.Contains(e)).ToList();
        Assert.True(undeclared.Count == 0, "exported but not in the header: " + string.Join(", ", undeclared));
    }

    [Fact]
    public void The_checks_fail_when_the_header_gains_a_function_the_library_lacks()
    {
        // What a careless change would look like: a declaration with no export behind it.
        string header = File.ReadAllText(NativeLibraryLoader.HeaderPath);
        string changed = header.Replace("#ifdef __cplusplus\n}", "DAPPER_IPC_API int32_t DAPPER_IPC_CALL dapper_ipc_frobnicate(dapper_ipc_manager manager);\n\n#ifdef __cplusplus\n}", StringComparison.Ordinal);
        Assert.NotEqual(header, changed);
        string path = Path.Combine(Path.GetTempPath(), $"dapper_ipc_changed_{Guid.NewGuid():N}.h");
        File.WriteAllText(path, changed);
        try
        {
            HeaderModel model = HeaderParser.Parse(path);
            string generated = CSharpEmitter.Emit(model, Generator.Namespace, Generator.ClassName, Generator.Library);
            Assert.NotEqual(File.ReadAllText(CheckedIn), generated);
            Assert.Contains("dapper_ipc_frobnicate(dapper_ipc_manager manager)", generated);
            Assert.Equal(["dapper_ipc_frobnicate"], MissingExports(model));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void The_generated_bindings_declare_every_header_function_with_its_parameter_count()
    {
        var model = HeaderParser.Parse(NativeLibraryLoader.HeaderPath);
        foreach (FunctionDef f in model.Functions)
        {
            var method = typeof(DapperIpcNative).GetMethod(f.Name);
            Assert.True(method is not null, $"{f.Name} is not in the generated bindings");
            Assert.Equal(f.Parameters.Count, method.GetParameters().Length);
        }
    }

    private static List<string> MissingExports(HeaderModel model)
        => model.Functions.Where(f => !NativeLibrary.TryGetExport(NativeLibraryLoader.Handle, f.Name, out _)).Select(f => f.Name).ToList();

    /// <summary>
    /// The dapper_ipc_ names the library exports, as the platform's loader sees them: the ELF
    /// dynamic table (nm -D) on Linux, Mach-O's external symbols (nm -gU, whose names carry a
    /// leading underscore) on macOS, and the PE export directory, read directly, on Windows.
    /// </summary>
    private static List<string> ExportedSymbols()
    {
        IEnumerable<string> names = OperatingSystem.IsWindows() ? PeExports(NativeLibraryLoader.LibraryPath)
            : OperatingSystem.IsMacOS() ? Nm(["-gU", NativeLibraryLoader.LibraryPath]).Select(n => n.StartsWith('_') ? n[1..] : n)
            : Nm(["-D", "--defined-only", NativeLibraryLoader.LibraryPath]);
        return names.Where(name => name.StartsWith("dapper_ipc_", StringComparison.Ordinal)).ToList();
    }

    private static List<string> Nm(string[] args)
    {
        var nm = Process.Start(new ProcessStartInfo("nm", args) { RedirectStandardOutput = true })!;
        string output = nm.StandardOutput.ReadToEnd();
        nm.WaitForExit();
        Assert.Equal(0, nm.ExitCode);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Trim().Split(' ')[^1].Split('@')[0])
            .ToList();
    }

    /// <summary>The names in a PE image's export directory (Windows has no nm on its runners).</summary>
    internal static List<string> PeExports(string path)
    {
        using var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(path));
        var directory = pe.PEHeaders.PEHeader!.ExportTableDirectory;
        Assert.True(directory.Size > 0, $"{path} has no export table");
        byte[] image = pe.GetEntireImage().GetContent().ToArray();
        int Offset(int rva)
        {
            foreach (var section in pe.PEHeaders.SectionHeaders)
            {
                if (rva >= section.VirtualAddress && rva < section.VirtualAddress + Math.Max(section.VirtualSize, section.SizeOfRawData))
                {
                    return rva - section.VirtualAddress + section.PointerToRawData;
                }
            }

            throw new InvalidDataException($"RVA 0x{rva:x} is in no section of {path}");
        }

        int Int32At(int offset) => BitConverter.ToInt32(image.AsSpan(offset, 4));
        int dir = Offset(directory.RelativeVirtualAddress);
        int count = Int32At(dir + 24);
        int namesTable = Offset(Int32At(dir + 32));
        var names = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            int name = Offset(Int32At(namesTable + 4 * i));
            int end = Array.IndexOf(image, (byte)0, name);
            names.Add(System.Text.Encoding.ASCII.GetString(image, name, end - name));
        }

        return names;
    }
}
