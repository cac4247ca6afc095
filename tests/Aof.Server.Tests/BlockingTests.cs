namespace Aof.Server.Tests;

/// <summary>
/// Blocking pops (BLPOP, BRPOP, BLMOVE, BLMPOP, BZPOPMIN) through real sockets: several waiting clients
/// served in the order they blocked, timeouts, a client that leaves while blocked, MULTI, and commands
/// pipelined behind a blocking one. They pass against real Redis too (AOF_TEST_TARGET=redis).
/// Each test waits for the server to report its clients blocked (INFO's blocked_clients) instead of sleeping.
/// </summary>
public sealed class BlockingTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    TestServer Server => fixture.Server;

    static string Key(string name) => $"{name}:{Guid.NewGuid():N}";

    internal static async Task<long> BlockedClients(TestClient c)
    {
        var info = await c.BulkAsync("INFO", "clients") ?? "";
        var line = info.Split("\r\n").First(l => l.StartsWith("blocked_clients:"));
        return long.Parse(line["blocked_clients:".Length..]);
    }

    internal static async Task WaitBlocked(TestClient observer, long count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (await BlockedClients(observer) != count)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"blocked_clients never reached {count}");
            await Task.Delay(5);
        }
    }

    static string[] Texts(Reply reply) =>
        ((Reply.Array)reply).Items!.Select(i => ((Reply.Bulk)i).Text!).ToArray();

    [Fact]
    public async Task WaitingClientsAreServedInTheOrderTheyBlocked()
    {
        await using var observer = await Server.ConnectAsync();
        var key = Key("queue");
        var clients = new List<TestClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var c = await Server.ConnectAsync();
                clients.Add(c);
                await c.SendAsync("BLPOP", key, "0");
                await WaitBlocked(observer, i + 1);
            }
            Assert.Equal(3, await observer.IntAsync("RPUSH", key, "a", "b", "c"));
            Assert.Equal(new[] { key, "a" }, Texts(await clients[0].ReadAsync()));
            Assert.Equal(new[] { key, "b" }, Texts(await clients[1].ReadAsync()));
            Assert.Equal(new[] { key, "c" }, Texts(await clients[2].ReadAsync()));
            Assert.Equal(0, await observer.IntAsync("EXISTS", key));
            await WaitBlocked(observer, 0);
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task ATimeoutAnswersTheNullArrayOrNull()
    {
        await using var c = await Server.ConnectAsync();
        var key = Key("empty");
        Assert.Null(await c.ArrayAsync("BLPOP", key, "0.05"));
        Assert.Null(await c.ArrayAsync("BZPOPMIN", key, "0.05"));
        // Redis 7.0 answers every blocking list or sorted-set timeout with the null array, BLMOVE included.
        Assert.Null(await c.ArrayAsync("BLMOVE", key, Key("dst"), "LEFT", "RIGHT", "0.05"));
        Assert.Null(await c.ArrayAsync("BRPOPLPUSH", key, Key("dst"), "0.05"));
        Assert.Equal("ERR timeout is negative", await c.ErrorAsync("BLPOP", key, "-1"));
        Assert.Equal("ERR timeout is not a float or out of range", await c.ErrorAsync("BLPOP", key, "soon"));
    }

    [Fact]
    public async Task AClientThatLeavesWhileBlockedTakesNothing()
    {
        await using var observer = await Server.ConnectAsync();
        var key = Key("left");
        var leaver = await Server.ConnectAsync();
        await leaver.SendAsync("BRPOP", key, "0");
        await WaitBlocked(observer, 1);
        await leaver.DisposeAsync();
        await WaitBlocked(observer, 0);
        Assert.Equal(1, await observer.IntAsync("LPUSH", key, "kept"));
        Assert.Equal(1, await observer.IntAsync("LLEN", key));
    }

    [Fact]
    public async Task InsideMultiABlockingPopDoesNotWait()
    {
        await using var c = await Server.ConnectAsync();
        var key = Key("multi");
        Assert.Equal("OK", await c.StatusAsync("MULTI"));
        Assert.Equal("QUEUED", await c.StatusAsync("BLPOP", key, "0"));
        Assert.Equal("QUEUED", await c.StatusAsync("RPUSH", key, "x"));
        Assert.Equal("QUEUED", await c.StatusAsync("BLPOP", key, "0"));
        Assert.Equal("QUEUED", await c.StatusAsync("BLMOVE", key, Key("dst"), "LEFT", "LEFT", "0"));
        var replies = await c.ArrayAsync("EXEC");
        Assert.NotNull(replies);
        Assert.Null(((Reply.Array)replies![0]).Items);
        Assert.Equal(new Reply.Integer(1), replies[1]);
        Assert.Equal(new[] { key, "x" }, Texts(replies[2]));
        // Not the null array a timeout gives: BLMOVE that cannot wait answers a null bulk (redis-server 7.0.15).
        Assert.Null(((Reply.Bulk)replies[3]).Bytes);
    }

    [Fact]
    public async Task CommandsPipelinedBehindABlockingOneWaitForIt()
    {
        await using var observer = await Server.ConnectAsync();
        await using var c = await Server.ConnectAsync();
        var key = Key("pipe");
        await c.SendRawAsync(TestClient.Encode("SET", key + ":before", "1").Concat(TestClient.Encode("BLPOP", key, "0")).Concat(TestClient.Encode("ECHO", "after")).ToArray());
        Assert.Equal(new Reply.Status("OK"), await c.ReadAsync());
        await WaitBlocked(observer, 1);
        Assert.Equal(1, await observer.IntAsync("RPUSH", key, "v"));
        Assert.Equal(new[] { key, "v" }, Texts(await c.ReadAsync()));
        Assert.Equal("after", ((Reply.Bulk)await c.ReadAsync()).Text);
    }

    [Fact]
    public async Task ServedMovesAndSortedSetPops()
    {
        await using var observer = await Server.ConnectAsync();
        await using var mover = await Server.ConnectAsync();
        await using var zpopper = await Server.ConnectAsync();
        var (src, dst, z) = (Key("src"), Key("dst"), Key("z"));
        await mover.SendAsync("BLMOVE", src, dst, "RIGHT", "LEFT", "0");
        await WaitBlocked(observer, 1);
        await zpopper.SendAsync("BZPOPMIN", z, "0");
        await WaitBlocked(observer, 2);
        Assert.Equal(2, await observer.IntAsync("RPUSH", src, "a", "b"));
        Assert.Equal("b", ((Reply.Bulk)await mover.ReadAsync()).Text);
        Assert.Equal(new[] { "b" }, (await observer.ArrayAsync("LRANGE", dst, "0", "-1"))!.Select(r => ((Reply.Bulk)r).Text).ToArray());
        Assert.Equal(2, await observer.IntAsync("ZADD", z, "2", "two", "1", "one"));
        Assert.Equal(new[] { z, "one", "1" }, Texts(await zpopper.ReadAsync()));
        Assert.Equal(1, await observer.IntAsync("ZCARD", z));
    }

    [Fact]
    public async Task AServedPopIsLoggedAsItsEffect()
    {
        await using var observer = await Server.ConnectAsync();
        await using var waiter = await Server.ConnectAsync();
        var key = Key("logged");
        await waiter.SendAsync("BLMPOP", "0", "1", key, "LEFT", "COUNT", "2");
        await WaitBlocked(observer, 1);
        Assert.Equal(3, await observer.IntAsync("RPUSH", key, "a", "b", "c"));
        var served = (Reply.Array)await waiter.ReadAsync();
        Assert.Equal(key, ((Reply.Bulk)served.Items![0]).Text);
        Assert.Equal(new[] { "a", "b" }, Texts(served.Items[1]));
        Assert.Equal(new[] { "c" }, (await observer.ArrayAsync("LRANGE", key, "0", "-1"))!.Select(r => ((Reply.Bulk)r).Text).ToArray());
    }
}
