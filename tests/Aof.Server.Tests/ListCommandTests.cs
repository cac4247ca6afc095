namespace Aof.Server.Tests;

/// <summary>
/// The list commands seen through a socket. These pass against real Redis (AOF_TEST_TARGET=redis), which is
/// what makes them a specification. Blocking commands are only exercised where they are served at once:
/// parking a client is the engine's part. Tests share one server, so each uses keys of its own.
/// </summary>
public sealed class ListCommandTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    TestServer Server => fixture.Server;

    static string Key(string name) => $"{name}:{Guid.NewGuid():N}";

    static string?[] Texts(Reply[]? items) =>
        items!.Select(i => ((Reply.Bulk)i).Text).ToArray();

    [Fact]
    public async Task PushPopRangeAndTheEmptiedListDisappears()
    {
        await using var c = await Server.ConnectAsync();
        var l = Key("l");
        Assert.Equal(3, await c.IntAsync("RPUSH", l, "a", "b", "c"));
        Assert.Equal(5, await c.IntAsync("LPUSH", l, "y", "z"));
        Assert.Equal(new[] { "z", "y", "a", "b", "c" }, Texts(await c.ArrayAsync("LRANGE", l, "0", "-1")));
        Assert.Equal("z", await c.BulkAsync("LPOP", l));
        Assert.Equal(new[] { "c", "b" }, Texts(await c.ArrayAsync("RPOP", l, "2")));
        Assert.Equal(new[] { "y", "a" }, Texts(await c.ArrayAsync("LPOP", l, "10")));
        Assert.Equal(0, await c.IntAsync("EXISTS", l));
        Assert.Null(await c.ArrayAsync("LPOP", l, "1"));
        Assert.Null(await c.BulkAsync("LPOP", l));
        Assert.Equal(0, await c.IntAsync("LPUSHX", l, "a"));
    }

    [Fact]
    public async Task IndexSetInsertRemoveTrim()
    {
        await using var c = await Server.ConnectAsync();
        var l = Key("l");
        await c.IntAsync("RPUSH", l, "a", "b", "a", "c", "a");
        Assert.Equal("c", await c.BulkAsync("LINDEX", l, "-2"));
        Assert.Equal("OK", await c.StatusAsync("LSET", l, "1", "B"));
        Assert.Equal("ERR index out of range", await c.ErrorAsync("LSET", l, "9", "x"));
        Assert.Equal("ERR no such key", await c.ErrorAsync("LSET", Key("none"), "0", "x"));
        Assert.Equal(6, await c.IntAsync("LINSERT", l, "AFTER", "c", "d"));
        Assert.Equal(-1, await c.IntAsync("LINSERT", l, "BEFORE", "zz", "d"));
        Assert.Equal(2, await c.IntAsync("LREM", l, "-2", "a"));
        Assert.Equal(new[] { "a", "B", "c", "d" }, Texts(await c.ArrayAsync("LRANGE", l, "0", "-1")));
        Assert.Equal("OK", await c.StatusAsync("LTRIM", l, "1", "-2"));
        Assert.Equal(new[] { "B", "c" }, Texts(await c.ArrayAsync("LRANGE", l, "0", "-1")));
    }

    [Fact]
    public async Task MovesPopsAndWrongType()
    {
        await using var c = await Server.ConnectAsync();
        var (l, d, s) = (Key("l"), Key("d"), Key("s"));
        await c.IntAsync("RPUSH", l, "a", "b", "c");
        await c.StatusAsync("SET", s, "x");
        Assert.Equal("a", await c.BulkAsync("LMOVE", l, l, "LEFT", "RIGHT"));
        Assert.Equal("a", await c.BulkAsync("RPOPLPUSH", l, d));
        Assert.StartsWith("WRONGTYPE", await c.ErrorAsync("LMOVE", l, s, "LEFT", "LEFT"));
        Assert.StartsWith("WRONGTYPE", await c.ErrorAsync("LPUSH", s, "x"));
        var mpop = await c.ArrayAsync("LMPOP", "2", Key("none"), l, "RIGHT", "COUNT", "5");
        Assert.Equal(l, ((Reply.Bulk)mpop![0]).Text);
        Assert.Equal(new[] { "c", "b" }, Texts(((Reply.Array)mpop[1]).Items));
        Assert.Equal("ERR numkeys should be greater than 0", await c.ErrorAsync("LMPOP", "0", l, "LEFT"));
        var served = await c.ArrayAsync("BLPOP", Key("none"), d, "0");
        Assert.Equal(new[] { d, "a" }, Texts(served));
        Assert.Equal("ERR timeout is negative", await c.ErrorAsync("BLPOP", d, "-1"));
    }
}
