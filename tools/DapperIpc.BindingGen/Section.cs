namespace DapperIpc.BindingGen;

/// <summary>The generated part of a hand-written file, between two marker lines.</summary>
public static class Section
{
    public static string Begin(string comment) => $"{comment} ---- {Generator.Marker} ----";

    public static string End(string comment) => $"{comment} ---- end of the generated section ----";

    /// <summary>The file's text with the lines between its markers replaced by <paramref name="body"/>.</summary>
    public static string Replace(string text, string body, string comment, string path)
    {
        text = text.Replace("\r\n", "\n", StringComparison.Ordinal); // a checkout with CRLF line ends (Windows)
        string begin = Begin(comment) + "\n", end = End(comment) + "\n";
        int start = text.IndexOf(begin, StringComparison.Ordinal);
        int stop = start < 0 ? -1 : text.IndexOf(end, start, StringComparison.Ordinal);
        if (start < 0 || stop < 0)
        {
            throw new InvalidOperationException(
                $"{path} has no generated section: it needs the line\n  {Begin(comment)}\nthen, below it, the line\n  {End(comment)}");
        }

        return text[..(start + begin.Length)] + body + text[stop..];
    }
}
