using System;
using System.Threading;

namespace DapperIpc.Transports.Tls;

/// <summary>
/// An OpenSSL session on one connection's socket. A reader, senders and the closing
/// thread may all be inside it at once (Native/tls.c serialises the SSL calls); it is
/// freed when it was disposed and the last of them has left, never under one of them.
/// </summary>
internal sealed unsafe class TlsSession : IDisposable
{
    private readonly TlsContext _context;
    private readonly nint _session;
    private int _users = 1; // the owner's reference, dropped by Dispose

    public TlsSession(TlsContext context, nint session)
    {
        _context = context;
        _session = session;
    }

    /// <summary>Takes a use of the session for one call; false once it is disposed.</summary>
    public bool Enter()
    {
        int users = Volatile.Read(ref _users);
        while (users > 0)
        {
            int seen = Interlocked.CompareExchange(ref _users, users + 1, users);
            if (seen == users)
            {
                return true;
            }

            users = seen;
        }

        return false;
    }

    public void Exit()
    {
        if (Interlocked.Decrement(ref _users) == 0)
        {
            TlsShim.SessionFree(_session);
            _context.Release();
        }
    }

    /// <summary>The session pointer for a call made between <see cref="Enter"/> and <see cref="Exit"/>.</summary>
    public nint Handle => _session;

    public string LastError => TlsShim.Text(TlsShim.Error(_session));

    public string Version => TlsShim.Text(TlsShim.Version(_session));

    private int _disposed;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Exit();
        }
    }
}
