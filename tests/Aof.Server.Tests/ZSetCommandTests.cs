namespace Aof.Server.Tests;

/// <summary>
/// Sorted sets seen through a socket. Run with AOF_TEST_TARGET=redis to see that
/// these are Redis 7.0's answers. Tests share one server, so each uses keys of its own.
/// </summary>
public sealed class ZSetCommandTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    TestServer Server => fixture.Server;

    static string Key(string name) => $"{name}:{Guid.NewGuid():N}";

    static Reply Bulk(string s) => new Reply.Bulk(System.Text.Encoding.UTF8.GetBytes(s));

    static Reply.Array Items(params string[] items) => new(items.Select(Bulk).ToArray());

    /// <summary>Replies compared by what they print: records compare arrays by reference.</summary>
    static string Same(Reply r) => r.ToString();

    [Fact]
    public async Task ScoresAreRepliedAsPercent17g()
    {
        await using var c = await Server.ConnectAsync();
        var z = Key("z");
        Assert.Equal(3, await c.IntAsync("ZADD", z, "1.1", "a", "1e20", "b", "-inf", "c"));
        Assert.Equal(
            Same(Items("c", "-inf", "a", "1.1000000000000001", "b", "1e+20")),
            Same(await c.CallAsync("ZRANGE", z, "0", "-1", "WITHSCORES")));
        Assert.Equal("3.1000000000000001", await c.BulkAsync("ZINCRBY", z, "2", "a"));
        Assert.Equal("ERR resulting score is not a number (NaN)", await c.ErrorAsync("ZINCRBY", z, "+inf", "c"));
    }

    // Parking a client (a pop served by a later write, a timeout, MULTI's immediate answer) is the engine's
    // part; these check only what the sorted-set decisions answer by themselves.
    [Fact]
    public async Task BlockingPopWithDataIsServedAtOnce()
    {
        await using var c = await Server.ConnectAsync();
        var (empty, z) = (Key("empty"), Key("z"));
        Assert.Equal(2, await c.IntAsync("ZADD", z, "2", "b", "1", "a"));
        Assert.Equal(Same(Items(z, "a", "1")), Same(await c.CallAsync("BZPOPMIN", empty, z, "5")));
        Assert.Equal(Same(Items(z, "b", "2")), Same(await c.CallAsync("BZPOPMAX", z, "0")));
        Assert.Equal(0, await c.IntAsync("EXISTS", z));
        Assert.Equal("ERR timeout is negative", await c.ErrorAsync("BZPOPMIN", z, "-1"));
    }

    [Fact]
    public async Task StoreReplacesTheDestinationAndDropsItsTtl()
    {
        await using var c = await Server.ConnectAsync();
        var (a, b, dst) = (Key("a"), Key("b"), Key("dst"));
        await c.IntAsync("ZADD", a, "1", "x", "2", "y");
        await c.IntAsync("ZADD", b, "10", "y", "20", "z");
        Assert.Equal("OK", await c.StatusAsync("SET", dst, "text", "EX", "100"));
        Assert.Equal(1, await c.IntAsync("ZINTERSTORE", dst, "2", a, b, "WEIGHTS", "2", "1"));
        Assert.Equal(Same(Items("y", "14")), Same(await c.CallAsync("ZRANGE", dst, "0", "-1", "WITHSCORES")));
        Assert.Equal(-1, await c.IntAsync("TTL", dst));
        Assert.Equal(0, await c.IntAsync("ZDIFFSTORE", dst, "2", a, a));
        Assert.Equal(0, await c.IntAsync("EXISTS", dst));
    }
}
