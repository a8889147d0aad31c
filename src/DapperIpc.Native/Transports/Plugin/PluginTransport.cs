using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using DapperIpc.Interop;

namespace DapperIpc.Transports.Plugin;

/// <summary>dapper_ipc_transport_ops, as the header lays it out (a test compares the two).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeTransportOps
{
    public uint StructSize;
    public delegate* unmanaged<void*, byte*, void**, int> Listen;
    public delegate* unmanaged<void*, void*, byte*, nuint, int> LauncherAddress;
    public delegate* unmanaged<void*, void*, int, void**, int> Accept;
    public delegate* unmanaged<void*, void*, void> StopListener;
    public delegate* unmanaged<void*, void*, void> CloseListener;
    public delegate* unmanaged<void*, byte*, int, void**, int> Connect;
    public delegate* unmanaged<void*, void*, void*, nuint, nint> Read;
    public delegate* unmanaged<void*, void*, void*, nuint, nint> Write;
    public delegate* unmanaged<void*, void*, void> Shutdown;
    public delegate* unmanaged<void*, void*, void> Close;
}

/// <summary>
/// A transport the host registered (dapper_ipc_register_transport): its name, a copy of
/// its ops and its user pointer, for the life of the process.
/// </summary>
internal sealed unsafe class PluginTransport
{
    /// <summary>Names the library's own transports answer to; none can be registered.</summary>
    public static readonly string[] BuiltIn = BuiltInNames();

    private static readonly Dictionary<string, PluginTransport> s_registered = new(StringComparer.OrdinalIgnoreCase);

    private PluginTransport(string name, NativeTransportOps ops, void* user)
    {
        Name = name;
        Ops = ops;
        User = user;
    }

    public string Name { get; }

    public NativeTransportOps Ops { get; }

    public void* User { get; }

    public static void Register(string name, NativeTransportOps* ops, void* user)
    {
        if (name.Length is 0 or > 32 || !IsName(name))
        {
            throw new IpcException(IpcStatus.InvalidArgument,
                $"transport name '{name}': expected 1 to 32 of a-z, 0-9, '-' and '_'");
        }

        if (Array.IndexOf(BuiltIn, name.ToLowerInvariant()) >= 0)
        {
            throw new IpcException(IpcStatus.InvalidArgument,
                $"'{name}' is a built-in transport and cannot be replaced; register the plugin under another name");
        }

        if (ops->StructSize < (uint)sizeof(NativeTransportOps))
        {
            throw new IpcException(IpcStatus.InvalidArgument,
                $"ops->struct_size is {ops->StructSize}, smaller than dapper_ipc_transport_ops ({sizeof(NativeTransportOps)}); set it to sizeof(dapper_ipc_transport_ops)");
        }

        NativeTransportOps copy = *ops; // never past what this library knows
        if (copy.Read == null || copy.Write == null || copy.Shutdown == null || copy.Close == null)
        {
            throw new IpcException(IpcStatus.InvalidArgument, "ops->read, write, shutdown and close are required");
        }

        if (copy.Listen != null && (copy.LauncherAddress == null || copy.Accept == null || copy.StopListener == null || copy.CloseListener == null))
        {
            throw new IpcException(IpcStatus.InvalidArgument,
                "ops->listen needs launcher_address, accept, stop_listener and close_listener");
        }

        lock (s_registered)
        {
            if (!s_registered.TryAdd(name, new PluginTransport(name.ToLowerInvariant(), copy, user)))
            {
                throw new IpcException(IpcStatus.InvalidState, $"a transport named '{name}' is already registered");
            }
        }
    }

    /// <summary>The registered transport of that name, or null.</summary>
    public static PluginTransport? Find(string name)
    {
        lock (s_registered)
        {
            return s_registered.TryGetValue(name, out PluginTransport? found) ? found : null;
        }
    }

    /// <summary>"auto" and the names of TransportFactory.Named, in its order.</summary>
    private static string[] BuiltInNames()
    {
        var names = new string[Factory.TransportFactory.Named.Length + 1];
        names[0] = "auto";
        for (int i = 0; i < Factory.TransportFactory.Named.Length; i++)
        {
            names[i + 1] = Factory.TransportFactory.Named[i].Name;
        }

        return names;
    }

    /// <summary>The names a config may give, for messages.</summary>
    public static string KnownNames()
    {
        lock (s_registered)
        {
            var names = new List<string>(BuiltIn);
            names.AddRange(s_registered.Keys);
            return string.Join(", ", names);
        }
    }

    /// <summary>An op's failure as the exception the library reports, naming the transport and the op.</summary>
    public IpcException Failed(string op, long status)
    {
        IpcStatus s = status is < 0 and >= (int)IpcStatus.Internal && Enum.IsDefined((IpcStatus)(int)status)
            ? (IpcStatus)(int)status
            : IpcStatus.Io;
        return new IpcException(s, $"transport '{Name}': {op} failed with {status} ({StatusText((int)status)})");
    }

    private static string StatusText(int status)
        => Marshal.PtrToStringUTF8((nint)StaticStrings.ForStatus(status)) ?? "unknown status";

    private static bool IsName(string name)
    {
        foreach (char c in name)
        {
            if (!(c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '-' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A connection the transport made (connect or accept).</summary>
    public PluginConnection Connection(void* handle, ConnectionOptions options, string what)
        => new(this, handle, options, $"{Name}:{what}");
}
