namespace Aof.Server.Tests;

/// <summary>
/// The hash commands through a socket. Every expectation here also holds against a real Redis 7.0
/// (AOF_TEST_TARGET=redis), which is what makes them Redis's behaviour rather than ours.
/// Tests share one server, so each uses keys of its own.
/// </summary>
public sealed class HashCommandTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    TestServer Server => fixture.Server;

    static string Key(string name) => $"{name}:{Guid.NewGuid():N}";

    const string WrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";

    static string?[] Texts(Reply[]? items) => items!.Select(i => Assert.IsType<Reply.Bulk>(i).Text).ToArray();

    static Dictionary<string, string> Pairs(Reply[]? items)
    {
        var texts = Texts(items);
        Assert.True(texts.Length % 2 == 0);
        return Enumerable.Range(0, texts.Length / 2).ToDictionary(i => texts[2 * i]!, i => texts[2 * i + 1]!);
    }

    [Fact]
    public async Task SetGetDeleteAndTheHashDisappearsWhenEmptied()
    {
        await using var c = await Server.ConnectAsync();
        var h = Key("h");
        Assert.Equal(2, await c.IntAsync("HSET", h, "a", "1", "b", "2"));
        Assert.Equal(0, await c.IntAsync("HSET", h, "a", "3"));
        Assert.Equal(1, await c.IntAsync("HSET", h, "c", "4", "c", "5"));
        Assert.Equal("OK", await c.StatusAsync("HMSET", h, "d", "6"));
        Assert.Equal(0, await c.IntAsync("HSETNX", h, "a", "9"));
        Assert.Equal(1, await c.IntAsync("HSETNX", h, "e", "7"));
        Assert.Equal("3", await c.BulkAsync("HGET", h, "a"));
        Assert.Null(await c.BulkAsync("HGET", h, "zz"));
        Assert.Equal(new string?[] { "3", null, "5" }, Texts(await c.ArrayAsync("HMGET", h, "a", "zz", "c")));
        Assert.Equal(5, await c.IntAsync("HLEN", h));
        Assert.Equal(1, await c.IntAsync("HSTRLEN", h, "a"));
        Assert.Equal(1, await c.IntAsync("HEXISTS", h, "b"));
        Assert.Equal(
            new Dictionary<string, string> { ["a"] = "3", ["b"] = "2", ["c"] = "5", ["d"] = "6", ["e"] = "7" },
            Pairs(await c.ArrayAsync("HGETALL", h)));
        Assert.Equal(new string?[] { "a", "b", "c", "d", "e" }, Texts(await c.ArrayAsync("HKEYS", h)).Order().ToArray());
        Assert.Equal(new string?[] { "2", "3", "5", "6", "7" }, Texts(await c.ArrayAsync("HVALS", h)).Order().ToArray());
        Assert.Equal(2, await c.IntAsync("HDEL", h, "a", "a", "b", "zz"));
        Assert.Equal(3, await c.IntAsync("HDEL", h, "c", "d", "e"));
        Assert.Equal(0, await c.IntAsync("EXISTS", h));
        Assert.Equal("none", await c.StatusAsync("TYPE", h));
    }

    [Fact]
    public async Task MissingKeysReadAsEmpty()
    {
        await using var c = await Server.ConnectAsync();
        var h = Key("missing");
        Assert.Null(await c.BulkAsync("HGET", h, "a"));
        Assert.Equal(new string?[] { null, null }, Texts(await c.ArrayAsync("HMGET", h, "a", "b")));
        Assert.Equal(0, await c.IntAsync("HLEN", h));
        Assert.Equal(0, await c.IntAsync("HDEL", h, "a"));
        Assert.Empty((await c.ArrayAsync("HGETALL", h))!);
        Assert.Null(await c.BulkAsync("HRANDFIELD", h));
        Assert.Empty((await c.ArrayAsync("HRANDFIELD", h, "3"))!);
        var scan = await c.ArrayAsync("HSCAN", h, "0", "COUNT", "x");
        Assert.Equal("0", Assert.IsType<Reply.Bulk>(scan![0]).Text);
        Assert.Empty(Assert.IsType<Reply.Array>(scan[1]).Items!);
    }

    [Fact]
    public async Task WrongTypeAndArgumentErrors()
    {
        await using var c = await Server.ConnectAsync();
        var (s, h) = (Key("s"), Key("h"));
        await c.StatusAsync("SET", s, "x");
        Assert.Equal(WrongType, await c.ErrorAsync("HSET", s, "a", "1"));
        Assert.Equal(WrongType, await c.ErrorAsync("HGETALL", s));
        Assert.Equal(WrongType, await c.ErrorAsync("HRANDFIELD", s, "0"));
        Assert.Equal("ERR value is not an integer or out of range", await c.ErrorAsync("HINCRBY", s, "a", "x"));
        Assert.Equal("ERR wrong number of arguments for 'hset' command", await c.ErrorAsync("HSET", h, "a", "1", "b"));
        Assert.Equal("ERR wrong number of arguments for 'hmset' command", await c.ErrorAsync("HMSET", h, "a"));
        Assert.Equal("ERR syntax error", await c.ErrorAsync("HRANDFIELD", h, "1", "foo"));
        Assert.Equal("ERR invalid cursor", await c.ErrorAsync("HSCAN", h, "x"));
        await c.IntAsync("HSET", h, "a", "1");
        Assert.Equal("ERR syntax error", await c.ErrorAsync("HSCAN", h, "0", "COUNT", "0"));
        Assert.Equal("ERR syntax error", await c.ErrorAsync("HSCAN", h, "0", "NOVALUES"));
    }

    [Fact]
    public async Task IncrementsAsIntegersAndFloats()
    {
        await using var c = await Server.ConnectAsync();
        var h = Key("h");
        Assert.Equal(5, await c.IntAsync("HINCRBY", h, "n", "5"));
        Assert.Equal(-2, await c.IntAsync("HINCRBY", h, "n", "-7"));
        await c.IntAsync("HSET", h, "max", "9223372036854775807", "t", "x", "f", "1.5");
        Assert.Equal("ERR increment or decrement would overflow", await c.ErrorAsync("HINCRBY", h, "max", "1"));
        Assert.Equal("ERR hash value is not an integer", await c.ErrorAsync("HINCRBY", h, "f", "1"));
        Assert.Equal("ERR hash value is not a float", await c.ErrorAsync("HINCRBYFLOAT", h, "t", "1"));
        Assert.Equal("ERR value is NaN or Infinity", await c.ErrorAsync("HINCRBYFLOAT", h, "f", "inf"));
        Assert.Equal("2.5", await c.BulkAsync("HINCRBYFLOAT", h, "f", "1"));
        Assert.Equal("0.1", await c.BulkAsync("HINCRBYFLOAT", h, "g", "0.1"));
        Assert.Equal("0.3", await c.BulkAsync("HINCRBYFLOAT", h, "g", "0.2"));
        Assert.Equal("1500", await c.BulkAsync("HINCRBYFLOAT", h, "k", "1.5e3"));
        Assert.Equal("9223372036854775807.5", await c.BulkAsync("HINCRBYFLOAT", h, "max", "0.5"));
    }

    [Fact]
    public async Task RandomFieldsKeepTheirCountsAndPairs()
    {
        await using var c = await Server.ConnectAsync();
        var h = Key("h");
        await c.IntAsync("HSET", h, "a", "1", "b", "2", "c", "3");
        var one = await c.BulkAsync("HRANDFIELD", h);
        Assert.Contains(one, new[] { "a", "b", "c" });
        Assert.Empty((await c.ArrayAsync("HRANDFIELD", h, "0"))!);
        Assert.Equal(new string?[] { "a", "b", "c" }, Texts(await c.ArrayAsync("HRANDFIELD", h, "10")).Order().ToArray());
        Assert.Equal(2, Texts(await c.ArrayAsync("HRANDFIELD", h, "2")).Distinct().Count());
        var repeats = Texts(await c.ArrayAsync("HRANDFIELD", h, "-7", "WITHVALUES"));
        Assert.Equal(14, repeats.Length);
        for (var i = 0; i < repeats.Length; i += 2)
            Assert.Equal(repeats[i] switch { "a" => "1", "b" => "2", _ => "3" }, repeats[i + 1]);
        Assert.Equal("ERR value is out of range", await c.ErrorAsync("HRANDFIELD", h, "-4611686018427387904", "WITHVALUES"));
    }

    [Fact]
    public async Task ScanReturnsASmallHashWholeAndALargeOneByCursor()
    {
        await using var c = await Server.ConnectAsync();
        var (small, large) = (Key("small"), Key("large"));
        await c.IntAsync("HSET", small, "a", "1", "b", "2", "c", "3");
        var whole = await c.ArrayAsync("HSCAN", small, "77", "COUNT", "1", "MATCH", "[ab]");
        Assert.Equal("0", Assert.IsType<Reply.Bulk>(whole![0]).Text);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, Pairs(Assert.IsType<Reply.Array>(whole[1]).Items));

        // More than 512 fields: a hashtable in Redis, walked by cursor.
        var args = new List<string> { "HSET", large };
        for (var i = 0; i < 1000; i++) args.AddRange([$"f{i}", $"v{i}"]);
        Assert.Equal(1000, await c.IntAsync([.. args]));
        var seen = new Dictionary<string, string>();
        var cursor = "0";
        var calls = 0;
        do
        {
            var step = await c.ArrayAsync("HSCAN", large, cursor, "COUNT", "100");
            cursor = Assert.IsType<Reply.Bulk>(step![0]).Text!;
            foreach (var (f, v) in Pairs(Assert.IsType<Reply.Array>(step[1]).Items)) seen[f] = v;
            calls++;
        } while (cursor != "0");
        Assert.Equal(1000, seen.Count);
        Assert.All(seen, kv => Assert.Equal("v" + kv.Key[1..], kv.Value));
        Assert.True(calls > 1, "a large hash is scanned in steps");
    }

    [Fact]
    public async Task HashesSurviveReloadingTheAof()
    {
        await using var server = await TestServer.StartAsync("--appendonly", "yes", "--enable-debug-command", "yes");
        await using var c = await server.ConnectAsync();
        await UntilLoaded(c);
        var args = new List<string> { "HSET", "big" };
        for (var i = 0; i < 200; i++) args.AddRange([$"f{i}", $"v{i}"]);
        await c.IntAsync([.. args]);
        await c.IntAsync("HSET", "h", "n", "1", "gone", "x");
        await c.IntAsync("HINCRBY", "h", "n", "41");
        await c.BulkAsync("HINCRBYFLOAT", "h", "f", "0.1");
        await c.BulkAsync("HINCRBYFLOAT", "h", "f", "0.2");
        await c.IntAsync("HSETNX", "h", "nx", "y");
        await c.IntAsync("HDEL", "h", "gone");
        await c.IntAsync("HSET", "emptied", "a", "1");
        await c.IntAsync("HDEL", "emptied", "a");
        var before = Assert.IsType<Reply.Status>(await c.CallAsync("DEBUG", "DIGEST")).Text;

        Assert.Equal("OK", await c.StatusAsync("DEBUG", "LOADAOF"));
        Assert.Equal(before, Assert.IsType<Reply.Status>(await c.CallAsync("DEBUG", "DIGEST")).Text);
        Assert.Equal(
            new Dictionary<string, string> { ["n"] = "42", ["f"] = "0.3", ["nx"] = "y" },
            Pairs(await c.ArrayAsync("HGETALL", "h")));
        Assert.Equal(200, await c.IntAsync("HLEN", "big"));
        Assert.Equal(0, await c.IntAsync("EXISTS", "emptied"));

        // And through a rewrite: the base file holds the hashes as HSET chunks.
        Assert.StartsWith("Background append only file rewriting", await c.StatusAsync("BGREWRITEAOF"));
        await WaitForRewrite(c);
        Assert.Equal("OK", await c.StatusAsync("DEBUG", "LOADAOF"));
        Assert.Equal(before, Assert.IsType<Reply.Status>(await c.CallAsync("DEBUG", "DIGEST")).Text);
    }

    /// <summary>A server with an AOF answers -LOADING until it has read it: polls, with a bound.</summary>
    static async Task UntilLoaded(TestClient c)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await c.CallAsync("PING") is Reply.Error)
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("still loading");
            await Task.Delay(10);
        }
    }

    static async Task WaitForRewrite(TestClient c)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var info = await c.BulkAsync("INFO", "persistence");
            if (info!.Contains("aof_rewrite_in_progress:0") && !info.Contains("aof_rewrite_scheduled:1")) return;
            if (DateTime.UtcNow > deadline) Assert.Fail("the rewrite did not finish");
            await Task.Delay(20);
        }
    }
}
