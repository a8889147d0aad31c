using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DapperIpc.BindingGen;

/// <summary>
/// Loads libclang from the restored libclang.runtime package (the folder the build wrote into
/// this assembly's LibClangDirectory metadata), so no output carries its own 210 MB copy;
/// the generator run with `dotnet run` and the ABI tests that call it in-process both find
/// it there. Elsewhere the runtime's usual search goes on (a libclang on the loader's path).
/// </summary>
internal static class LibClangLoader
{
    [ModuleInitializer]
    internal static void Register()
        => NativeLibrary.SetDllImportResolver(typeof(LibClangLoader).Assembly, Resolve);

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        string? directory = assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "LibClangDirectory")?.Value;
        if (name != LibClang.Lib || string.IsNullOrEmpty(directory))
        {
            return IntPtr.Zero;
        }

        string file = Path.Combine(directory, OperatingSystem.IsWindows() ? "libclang.dll"
            : OperatingSystem.IsMacOS() ? "libclang.dylib" : "libclang.so");
        return NativeLibrary.TryLoad(file, out IntPtr handle) ? handle : IntPtr.Zero;
    }
}
