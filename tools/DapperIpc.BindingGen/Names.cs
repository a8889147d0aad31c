namespace DapperIpc.BindingGen;

internal static class Names
{
    /// <summary>invalid_argument or INVALID_ARGUMENT -> InvalidArgument.</summary>
    public static string Pascal(string snake)
        => string.Concat(snake.Split('_', StringSplitOptions.RemoveEmptyEntries).Select(w => char.ToUpperInvariant(w[0]) + w[1..].ToLowerInvariant()));
}
