namespace DapperIpc.BindingGen;

public static class Generator
{
    public const string Namespace = "DapperIpc.AbiTests.Native";
    public const string ClassName = "DapperIpcNative";
    public const string Library = "dapper_ipc";

    /// <summary>The C# bindings for a header, exactly as checked in under tests/DapperIpc.Native.AbiTests/Generated.</summary>
    public static string Generate(string headerPath)
        => CSharpEmitter.Emit(HeaderParser.Parse(headerPath), Namespace, ClassName, Library);
}
