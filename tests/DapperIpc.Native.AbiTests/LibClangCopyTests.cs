using DapperIpc.AbiTests.Native;
using DapperIpc.BindingGen;

namespace DapperIpc.AbiTests;

/// <summary>
/// libclang (about 210 MB) stays in the restored package: the generator, called in-process
/// here, loads it from there, and the build copies it into no output of its own.
/// </summary>
public class LibClangCopyTests
{
    [Fact]
    public void The_generator_runs_here_without_a_copy_of_libclang_in_this_output()
    {
        Assert.Contains("dapper_ipc_send", Generator.Generate(NativeLibraryLoader.HeaderPath));
        // What the build copies is what the deps file lists (a copy an older build left
        // behind is listed nowhere, and is not loaded).
        string deps = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "DapperIpc.Native.AbiTests.deps.json"));
        Assert.False(deps.Contains("native/libclang", StringComparison.Ordinal),
            "the test output's deps file lists libclang: the build copies it into this output again");
    }
}
