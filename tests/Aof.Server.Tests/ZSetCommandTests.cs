using Xunit.Abstractions;

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

/// <summary>
/// Sorted-set stores cross between our server and real Redis 7 through AOF directories, both ways. Real
/// Redis logs ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE and ZRANGESTORE as they were sent; ours logs the DEL and
/// ZADD they came to. The loaded dataset has the same DEBUG DIGEST, which covers every member, every score
/// and which keys have a TTL.
/// </summary>
public sealed class ZSetAofCompatibilityTests(ITestOutputHelper output) : AofProcessTests(output)
{
    static readonly string[] StoreNames = ["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZRANGESTORE"];

    static List<string[]> Workload()
    {
        var expireAt = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 3_000_000).ToString();
        List<string[]> commands =
        [
            ["ZADD", "za", "1", "a", "2", "b", "3", "c", "-1.5", "d", "inf", "e"],
            ["ZADD", "zb", "10", "b", "20", "c", "30", "x"],
            ["SADD", "sp", "a", "b", "x", "y"],
            ["ZUNIONSTORE", "u1", "3", "za", "zb", "sp", "WEIGHTS", "2", "0.5", "-1", "AGGREGATE", "MAX"],
            ["ZUNIONSTORE", "u2", "2", "za", "zb"],
            ["ZUNIONSTORE", "u3", "2", "za", "zb", "AGGREGATE", "min", "WEIGHTS", "0", "inf"],
            ["ZINTERSTORE", "i1", "2", "za", "zb", "AGGREGATE", "MIN"],
            ["ZINTERSTORE", "i2", "3", "za", "zb", "sp", "WEIGHTS", "1", "1", "3"],
            ["ZDIFFSTORE", "d1", "2", "za", "zb"], ["ZDIFFSTORE", "d2", "2", "za", "missing"],
            // A destination of another type is replaced; one with a TTL loses it; an empty result deletes it.
            ["SET", "str", "v"], ["ZUNIONSTORE", "str", "1", "za"],
            ["ZADD", "ttlz", "1", "q"], ["PEXPIREAT", "ttlz", expireAt], ["ZINTERSTORE", "ttlz", "1", "za"],
            ["ZADD", "kept", "1", "q"], ["PEXPIREAT", "kept", expireAt],
            ["ZADD", "emptied", "1", "q"], ["ZINTERSTORE", "emptied", "2", "za", "missing"],
            ["ZRANGESTORE", "r1", "za", "0", "-1"],
            ["ZRANGESTORE", "r2", "za", "0", "1", "REV"],
            ["ZRANGESTORE", "r3", "za", "(1", "+inf", "BYSCORE", "LIMIT", "1", "2"],
            ["ZRANGESTORE", "r4", "za", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "3"],
            ["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"],
            ["ZRANGESTORE", "r5", "lex", "[b", "+", "BYLEX"],
            ["ZRANGESTORE", "r6", "lex", "+", "-", "BYLEX", "REV", "LIMIT", "1", "2"],
            ["ZADD", "r7", "5", "old"], ["ZRANGESTORE", "r7", "missing", "0", "-1"],
            // Zeros: a weight of -1 on a 0 gives -0, which a small result keeps as 0, as its encoding does.
            ["ZADD", "zz", "0", "a", "1", "b"], ["ZUNIONSTORE", "zneg", "1", "zz", "WEIGHTS", "-1"],
            ["ZUNIONSTORE", "znan", "2", "za", "za", "WEIGHTS", "1", "-1"],
            // A source that is also the destination is read before it is replaced.
            ["ZRANGESTORE", "lex", "lex", "1", "-2"], ["ZUNIONSTORE", "zb", "2", "zb", "za"],
            ["SELECT", "2"], ["ZADD", "z2", "1", "m"], ["ZUNIONSTORE", "z2u", "1", "z2", "WEIGHTS", "3"], ["SELECT", "0"],
            ["MULTI"], ["ZUNIONSTORE", "tx", "2", "za", "zb"], ["ZRANGESTORE", "tx2", "tx", "0", "0"], ["EXEC"],
        ];
        // Large enough for Redis's skiplist encoding.
        commands.Add(["ZADD", "bigz", .. Enumerable.Range(0, 200).SelectMany(i => new[] { (i - 100).ToString(), $"member:{i}" })]);
        commands.Add(["ZUNIONSTORE", "bigu", "2", "bigz", "za", "WEIGHTS", "1", "2"]);
        commands.Add(["ZRANGESTORE", "bigr", "bigz", "-50", "50", "BYSCORE", "REV"]);
        return commands;
    }

    /// <summary>
    /// A large result keeps a -0 (Redis's skiplist does). Only Redis's verbatim log carries it across: the
    /// ZADD our decide logs for it is read by Redis member by member, so the -0 lands while the set is still
    /// small and becomes 0 there.
    /// </summary>
    static readonly List<string[]> LargeNegativeZero =
    [
        ["ZUNIONSTORE", "bigneg", "2", "bigz", "za", "WEIGHTS", "-1", "2"],
    ];

    static string AofText(string dir) =>
        string.Concat(Directory.GetFiles(dir, "*.aof", SearchOption.AllDirectories).Select(File.ReadAllText));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RealRedisZSetStoresLoadInOurs(bool rewrite)
    {
        if (!Tools.Require(Output, "redis-server")) return;
        var dir = NewDir();
        var redis = await StartRedisAsync(dir);
        await RunAsync(redis, [.. Workload(), .. LargeNegativeZero]);
        if (rewrite) await RewriteAsync(redis);
        await RunAsync(redis, [["ZADD", "after", "1", "x"], ["ZINTERSTORE", "after2", "2", "after", "za", "AGGREGATE", "MAX"]]);
        var digest = await redis.DigestAsync();
        Assert.NotEqual(new string('0', 40), digest);
        await StopAsync(redis);

        // The point of the test: the stores are in Redis's AOF as sent, not as their results.
        var text = AofText(dir);
        foreach (var name in StoreNames)
            Assert.True(text.Contains(name) || rewrite, $"{name} is not in Redis's AOF");

        var copy = NewDir();
        AofFiles.CopyDirectory(dir, copy);
        var ours = await StartOursAsync(copy);
        Assert.Equal(digest, await ours.DigestAsync());
    }

    [Fact]
    public async Task OurZSetStoresLoadInRealRedis()
    {
        if (!Tools.Require(Output, "redis-server")) return;
        var dir = NewDir();
        var ours = await StartOursAsync(dir, "--appendfsync", "always");
        await RunAsync(ours, Workload());
        var digest = await ours.DigestAsync();
        await StopAsync(ours);

        var copy = NewDir();
        AofFiles.CopyDirectory(dir, copy);
        var redis = await StartRedisAsync(copy);
        Assert.Equal(digest, await redis.DigestAsync());
    }
}
