using Xunit.Abstractions;

namespace Aof.Server.Tests;

/// <summary>
/// Set commands through a socket. The expectations are Redis 7.0's: AOF_TEST_TARGET=redis runs them
/// against a real redis-server. Replies in set order are compared sorted.
/// </summary>
public sealed class SetCommandTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    TestServer Server => fixture.Server;

    static string Key(string name) => $"{name}:{Guid.NewGuid():N}";

    static async Task<string[]> MembersAsync(TestClient c, params string[] args) =>
        (await c.ArrayAsync(args))!.Select(r => ((Reply.Bulk)r).Text!).Order(StringComparer.Ordinal).ToArray();

    const string WrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";

    [Fact]
    public async Task AddRemoveAndMembership()
    {
        await using var c = await Server.ConnectAsync();
        var s = Key("s");
        Assert.Equal(3, await c.IntAsync("SADD", s, "a", "b", "c", "a"));
        Assert.Equal(0, await c.IntAsync("SADD", s, "a"));
        Assert.Equal(["a", "b", "c"], await MembersAsync(c, "SMEMBERS", s));
        Assert.Equal(1, await c.IntAsync("SISMEMBER", s, "b"));
        var flags = (await c.ArrayAsync("SMISMEMBER", s, "a", "zz"))!.Select(r => ((Reply.Integer)r).Value);
        Assert.Equal([1L, 0L], flags);
        Assert.Equal(2, await c.IntAsync("SREM", s, "a", "b", "zz"));
        Assert.Equal(1, await c.IntAsync("SCARD", s));
        Assert.Equal(1, await c.IntAsync("SREM", s, "c"));
        Assert.Equal(0, await c.IntAsync("EXISTS", s)); // an emptied set disappears
    }

    [Fact]
    public async Task PopAndRandomMember()
    {
        await using var c = await Server.ConnectAsync();
        var s = Key("s");
        await c.IntAsync("SADD", s, "a", "b", "c", "d");
        Assert.Empty((await c.ArrayAsync("SPOP", s, "0"))!);
        Assert.Equal("ERR value is out of range, must be positive", await c.ErrorAsync("SPOP", s, "-1"));
        Assert.Equal(2, (await MembersAsync(c, "SRANDMEMBER", s, "2")).Distinct().Count());
        Assert.Equal(7, (await c.ArrayAsync("SRANDMEMBER", s, "-7"))!.Length);
        var popped = await c.BulkAsync("SPOP", s);
        Assert.Equal(3, await c.IntAsync("SCARD", s));
        Assert.Equal(0, await c.IntAsync("SISMEMBER", s, popped!));
        Assert.Equal(3, (await MembersAsync(c, "SPOP", s, "10")).Length);
        Assert.Equal(0, await c.IntAsync("EXISTS", s));
        Assert.Null(await c.BulkAsync("SPOP", s));
    }

    [Fact]
    public async Task MoveAndTheAlgebra()
    {
        await using var c = await Server.ConnectAsync();
        var (s, t, str, d) = (Key("s"), Key("t"), Key("str"), Key("d"));
        await c.IntAsync("SADD", s, "a", "b", "c");
        await c.IntAsync("SADD", t, "b", "c", "d");
        await c.StatusAsync("SET", str, "v");
        Assert.Equal(WrongType, await c.ErrorAsync("SMOVE", s, str, "a"));
        Assert.Equal(WrongType, await c.ErrorAsync("SINTER", Key("missing"), str));
        Assert.Equal(["b", "c"], await MembersAsync(c, "SINTER", s, t));
        Assert.Equal(["a", "b", "c", "d"], await MembersAsync(c, "SUNION", s, t));
        Assert.Equal(["a"], await MembersAsync(c, "SDIFF", s, t));
        Assert.Equal(1, await c.IntAsync("SINTERCARD", "2", s, t, "LIMIT", "1"));
        Assert.Equal(2, await c.IntAsync("SINTERSTORE", str, s, t)); // any destination is overwritten
        Assert.Equal("set", await c.StatusAsync("TYPE", str));
        Assert.Equal(1, await c.IntAsync("SMOVE", s, d, "a"));
        Assert.Equal(["a"], await MembersAsync(c, "SMEMBERS", d));
        Assert.Equal(0, await c.IntAsync("SDIFFSTORE", d, s, s));
        Assert.Equal(0, await c.IntAsync("EXISTS", d));
        var scan = (await c.ArrayAsync("SSCAN", t, "0", "MATCH", "[bc]"))!;
        Assert.Equal("0", ((Reply.Bulk)scan[0]).Text);
        Assert.Equal(2, ((Reply.Array)scan[1]).Items!.Length);
    }
}

/// <summary>
/// Set writes cross between our server and real Redis 7 through AOF directories, both ways: the loaded
/// dataset has the same DEBUG DIGEST, which covers every member of every set and which keys have a TTL.
/// </summary>
public sealed class SetAofCompatibilityTests(ITestOutputHelper output) : AofProcessTests(output)
{
    static List<string[]> Workload()
    {
        var expireAt = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 3_000_000).ToString();
        List<string[]> commands =
        [
            ["SADD", "s", "a", "b", "c", "d", "e", "1", "2"],
            ["SADD", "t", "c", "d", "e", "f"],
            ["SREM", "s", "e", "zz"],
            ["SPOP", "s"],
            ["SPOP", "t", "2"],
            ["SADD", "gone", "x", "y"], ["SPOP", "gone", "5"],
            ["SMOVE", "s", "moved", "a"], ["SMOVE", "s", "t", "b"],
            ["SET", "str", "v"], ["SUNIONSTORE", "str", "s", "t"],
            ["SINTERSTORE", "inter", "s", "t"], ["SDIFFSTORE", "diff", "s", "t", "missing"],
            ["SADD", "emptied", "x"], ["SINTERSTORE", "emptied", "s", "missing"],
            ["SADD", "ttl", "x", "y"], ["PEXPIREAT", "ttl", expireAt], ["SADD", "ttl", "z"],
            ["SELECT", "3"], ["SADD", "db3", "only", "here"], ["SELECT", "0"],
            ["MULTI"], ["SADD", "tx", "1"], ["SMOVE", "tx", "tx2", "1"], ["EXEC"],
        ];
        // Large enough that a rewrite writes several SADD chunks.
        commands.Add(["SADD", "big", .. Enumerable.Range(0, 300).Select(i => $"member:{i}")]);
        commands.Add(["SADD", "bigints", .. Enumerable.Range(0, 200).Select(i => (i * 7 - 500).ToString())]);
        return commands;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OurSetWritesLoadInRealRedis(bool rewrite)
    {
        if (!Tools.Require(Output, "redis-server")) return;
        var dir = NewDir();
        var ours = await StartOursAsync(dir, "--appendfsync", "always");
        await RunAsync(ours, Workload());
        if (rewrite) await RewriteAsync(ours);
        await RunAsync(ours, [["SADD", "after", "x"], ["SUNIONSTORE", "after2", "after", "inter"]]);
        var digest = await ours.DigestAsync();
        Assert.NotEqual(new string('0', 40), digest);
        await StopAsync(ours);

        var copy = NewDir();
        AofFiles.CopyDirectory(dir, copy);
        var redis = await StartRedisAsync(copy);
        Assert.Equal(digest, await redis.DigestAsync());
        var again = await StartOursAsync(dir);
        Assert.Equal(digest, await again.DigestAsync());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RealRedisSetWritesLoadInOurs(bool rewrite)
    {
        if (!Tools.Require(Output, "redis-server")) return;
        var dir = NewDir();
        var redis = await StartRedisAsync(dir);
        await RunAsync(redis, Workload());
        if (rewrite) await RewriteAsync(redis);
        await RunAsync(redis, [["SADD", "after", "x"], ["SUNIONSTORE", "after2", "after", "inter"]]);
        var digest = await redis.DigestAsync();
        await StopAsync(redis);

        var copy = NewDir();
        AofFiles.CopyDirectory(dir, copy);
        var ours = await StartOursAsync(copy);
        Assert.Equal(digest, await ours.DigestAsync());
    }
}
