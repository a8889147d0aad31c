using System;
using System.Globalization;
using System.Text;
using System.Threading;

namespace DapperIpc.Transports.Tls;

/// <summary>
/// One side's tls settings, made once per listener or connect: the listener's certificate
/// (made in memory, or the PEM files given) and its fingerprint, or the client's pin.
/// Sessions made from it keep it alive (a count of users); the OpenSSL context goes when
/// the last one does.
/// </summary>
internal sealed unsafe class TlsContext : IDisposable
{
    private nint _context;
    private int _users = 1;

    private TlsContext(nint context, string? fingerprint)
    {
        _context = context;
        Fingerprint = fingerprint;
    }

    /// <summary>Listener: "sha256:" and 64 hex digits of its certificate; null on a client.</summary>
    public string? Fingerprint { get; }

    /// <summary>Why tls cannot be used here (OpenSSL 3 not found, or Windows), or null.</summary>
    public static string? Unavailable()
    {
        if (OperatingSystem.IsWindows())
        {
            return "tls is not supported on Windows yet: it needs OpenSSL 3 (libssl), which the library loads on Linux and macOS only";
        }

        byte* error = stackalloc byte[TlsShim.ErrorCapacity];
        return TlsShim.Available(error, TlsShim.ErrorCapacity) == 0 ? null : TlsShim.Text(error);
    }

    public static TlsContext ForListener(string? certFile, string? keyFile, bool allowTls12)
    {
        ThrowIfUnavailable();
        if ((certFile is null) != (keyFile is null))
        {
            throw new IpcException(IpcStatus.InvalidArgument, "tls_cert_file and tls_key_file go together: give both, or neither for a fresh self-signed certificate");
        }

        byte* error = stackalloc byte[TlsShim.ErrorCapacity];
        byte* own = stackalloc byte[32];
        nint context;
        fixed (byte* cert = Utf8z(certFile))
        fixed (byte* key = Utf8z(keyFile))
        {
            context = TlsShim.ServerNew(certFile is null ? null : cert, keyFile is null ? null : key, allowTls12 ? 1 : 0, own, error, TlsShim.ErrorCapacity);
        }

        if (context == 0)
        {
            throw new IpcException(certFile is null ? IpcStatus.Io : IpcStatus.InvalidArgument, TlsShim.Text(error));
        }

        return new TlsContext(context, Format(own));
    }

    public static TlsContext ForClient(string? pin, bool allowTls12)
    {
        ThrowIfUnavailable();
        byte* error = stackalloc byte[TlsShim.ErrorCapacity];
        nint context;
        if (pin is null)
        {
            context = TlsShim.ClientNew(null, allowTls12 ? 1 : 0, error, TlsShim.ErrorCapacity);
        }
        else
        {
            byte[] raw = ParseFingerprint(pin, "tls_fingerprint");
            fixed (byte* p = raw)
            {
                context = TlsShim.ClientNew(p, allowTls12 ? 1 : 0, error, TlsShim.ErrorCapacity);
            }
        }

        return context == 0 ? throw new IpcException(IpcStatus.Io, TlsShim.Text(error)) : new TlsContext(context, null);
    }

    /// <summary>"sha256:" and 64 hex digits (either case; colons between bytes allowed, as openssl prints them) to 32 bytes.</summary>
    public static byte[] ParseFingerprint(string text, string field)
    {
        string s = text.Trim();
        if (s.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase))
        {
            s = s.Substring(7);
        }

        s = s.Replace(":", "", StringComparison.Ordinal);
        if (s.Length != 64 || !IsHex(s))
        {
            throw new IpcException(IpcStatus.InvalidArgument, $"{field} must be sha256: followed by 64 hex digits (got '{text}')");
        }

        return Convert.FromHexString(s);
    }

    private static bool IsHex(string s)
    {
        foreach (char c in s)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static void ThrowIfUnavailable()
    {
        string? why = Unavailable();
        if (why is not null)
        {
            throw new IpcException(IpcStatus.Unsupported, why);
        }
    }

    private static string Format(byte* fingerprint)
    {
        var text = new StringBuilder("sha256:", 71);
        for (int i = 0; i < 32; i++)
        {
            text.Append(fingerprint[i].ToString("x2", CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    private static byte[] Utf8z(string? s) => s is null ? [0] : Encoding.UTF8.GetBytes(s + "\0");

    /// <summary>A session on a connected socket; throws with OpenSSL's reason.</summary>
    public TlsSession NewSession(int fd, string? host)
    {
        Interlocked.Increment(ref _users);
        byte* error = stackalloc byte[TlsShim.ErrorCapacity];
        nint session;
        fixed (byte* h = Utf8z(host))
        {
            session = TlsShim.SessionNew(_context, fd, host is null ? null : h, error, TlsShim.ErrorCapacity);
        }

        if (session == 0)
        {
            Release();
            throw new IpcException(IpcStatus.Io, TlsShim.Text(error));
        }

        return new TlsSession(this, session);
    }

    internal void Release()
    {
        if (Interlocked.Decrement(ref _users) == 0)
        {
            TlsShim.ContextFree(Interlocked.Exchange(ref _context, 0));
        }
    }

    public void Dispose() => Release();
}
