namespace DapperIpc.Factory;

public enum TransportKind
{
    Unix,
    Tcp,
    Pipe,
    Ws,
    Tls,
    Wss,
}
