using System.Text;
using DapperIpc.Sessions;

namespace DapperIpc.Tests;

/// <summary>The hello parser on its own: what it accepts, and that it refuses everything else with a reason.</summary>
public class SessionHelloTests
{
    private static (bool Ok, SessionHello Hello, string Error) Parse(string json)
    {
        bool ok = SessionHello.TryParse(Encoding.UTF8.GetBytes(json), out SessionHello hello, out string error);
        return (ok, hello, error);
    }

    [Fact]
    public void A_full_hello_gives_the_session_id_the_parent_and_the_pid()
    {
        string json = """{"event": "dapper/sessionHello", "body": {"sessionId": "child-1", "parentSessionId": "root", "pid": 4242}}""";
        var (ok, hello, error) = Parse(json);
        Assert.True(ok, error);
        Assert.Equal("child-1", hello.SessionId);
        Assert.Equal("root", hello.ParentSessionId);
        Assert.Equal(4242, hello.Pid);
        Assert.Equal(json, Encoding.UTF8.GetString(hello.Payload));
    }

    [Theory]
    [InlineData("""{"body": {"sessionId": "a"}, "event": "dapper/sessionHello"}""")]
    [InlineData("""{"event": "dapper/sessionHello", "seq": 1, "body": {"extra": [1, {"x": null}], "sessionId": "a"}}""")]
    [InlineData("""{"event": "dapper/sessionHello", "body": {"sessionId": "a", "parentSessionId": null, "pid": null}}  """)]
    [InlineData("""{"event":"dapper\/sessionHello","body":{"sessionId":"\u0061"}}""")]
    public void Member_order_unknown_members_nulls_and_escapes_are_accepted(string json)
    {
        var (ok, hello, error) = Parse(json);
        Assert.True(ok, error);
        Assert.Equal("a", hello.SessionId);
        Assert.Null(hello.ParentSessionId);
        Assert.Null(hello.Pid);
    }

    [Theory]
    [InlineData("", "not valid JSON")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("\"x\"", "not a JSON object")]
    [InlineData("""{"command": "initialize"}""", "no \"event\"")]
    [InlineData("""{"event": "output", "body": {"sessionId": "a"}}""", "is not \"dapper/sessionHello\"")]
    [InlineData("""{"event": 1, "body": {"sessionId": "a"}}""", "is not \"dapper/sessionHello\"")]
    [InlineData("""{"event": "dapper/sessionHello"}""", "no \"body\"")]
    [InlineData("""{"event": "dapper/sessionHello", "body": []}""", "\"body\" is not an object")]
    [InlineData("""{"event": "dapper/sessionHello", "body": {}}""", "no \"sessionId\"")]
    [InlineData("""{"event": "dapper/sessionHello", "body": {"sessionId": ""}}""", "is empty")]
    [InlineData("""{"event": "dapper/sessionHello", "body": {"sessionId": 7}}""", "not a string")]
    [InlineData("""{"event": "dapper/sessionHello", "body": {"sessionId": "a", "sessionId": "b"}}""", "given twice")]
    [InlineData("""{"event": "dapper/sessionHello", "event": "dapper/sessionHello", "body": {"sessionId": "a"}}""", "given twice")]
    [InlineData("""{"event": "dapper/sessionHello", "body": {"sessionId": "a"}, "body": {"sessionId": "b"}}""", "given twice")]
    [InlineData("""{"event": "dapper/sessionHello", "body": {"sessionId": "a", "pid": "12"}}""", "\"pid\" is not an integer")]
    [InlineData("""{"event": "dapper/sessionHello", "body": {"sessionId": "a", "pid": 1.5}}""", "\"pid\" is not an integer")]
    [InlineData("""{"event": "dapper/sessionHello", "body": {"sessionId": "a", "parentSessionId": 3}}""", "not a string")]
    [InlineData("""{"event": "dapper/sessionHello", "body": {"sessionId": "a"}} {}""", "not valid JSON")]
    [InlineData("""{"event": "dapper/sessionHello", "body": {"sessionId": "a"}""", "not valid JSON")]
    [InlineData("""{"event": "dapper/sessionHello", "body": {"sessionId": "\ud800"}}""", "not valid JSON")]
    public void Anything_else_is_refused_with_a_reason(string json, string reason)
    {
        var (ok, hello, error) = Parse(json);
        Assert.False(ok);
        Assert.Null(hello);
        Assert.Contains(reason, error);
    }

    [Fact]
    public void Invalid_utf8_in_the_session_id_is_refused_not_thrown()
    {
        byte[] head = Encoding.UTF8.GetBytes("""{"event": "dapper/sessionHello", "body": {"sessionId": "a""");
        byte[] tail = Encoding.UTF8.GetBytes("\"}}");
        byte[] payload = [.. head, 0xC3, 0x28, .. tail];
        Assert.False(SessionHello.TryParse(payload, out _, out string error));
        Assert.Contains("not valid JSON", error);
    }

    [Fact]
    public void Deep_nesting_in_an_ignored_member_is_refused_not_thrown()
    {
        string deep = new string('[', 100) + new string(']', 100);
        var (ok, _, error) = Parse("{\"x\": " + deep + ", \"event\": \"dapper/sessionHello\", \"body\": {\"sessionId\": \"a\"}}");
        Assert.False(ok);
        Assert.Contains("not valid JSON", error);
    }

    [Fact]
    public void Every_prefix_of_a_hello_is_refused_without_throwing()
    {
        byte[] full = Encoding.UTF8.GetBytes("""{"event": "dapper/sessionHello", "body": {"sessionId": "s", "pid": 12}}""");
        for (int n = 0; n < full.Length; n++)
        {
            Assert.False(SessionHello.TryParse(full.AsSpan(0, n), out _, out string error), $"prefix {n}");
            Assert.False(string.IsNullOrEmpty(error));
        }
    }
}
