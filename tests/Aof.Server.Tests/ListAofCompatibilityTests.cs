using Xunit.Abstractions;

namespace Aof.Server.Tests;

/// <summary>
/// Lists cross between our server and real Redis 7 through the AOF in both directions, rewrites included:
/// whatever one wrote, the other loads to the same lists and the same DEBUG DIGEST. Without redis-server
/// they skip locally and fail under CI=true.
/// </summary>
public sealed class ListAofCompatibilityTests(ITestOutputHelper output) : AofProcessTests(output)
{
    /// <summary>Every list write, the blocking ones only where they are served at once.</summary>
    static List<string[]> Workload()
    {
        List<string[]> w =
        [
            ["RPUSH", "l1", "a", "b", "c", "d", "e"], ["LPUSH", "l1", "z", "y"], ["LPUSHX", "l1", "x"], ["RPUSHX", "nol", "q"],
            ["LPOP", "l1"], ["RPOP", "l1", "2"], ["LSET", "l1", "1", "S"], ["RPUSH", "l1", "a", "a"], ["LREM", "l1", "-1", "a"],
            ["LINSERT", "l1", "BEFORE", "c", "C"], ["LINSERT", "l1", "AFTER", "nope", "C"], ["LTRIM", "l1", "0", "-2"],
            ["RPUSH", "big", .. Enumerable.Range(0, 300).Select(i => $"e{i}")],
            ["RPOPLPUSH", "l1", "l2"], ["LMOVE", "l2", "l2", "LEFT", "RIGHT"], ["LMOVE", "l1", "l2", "LEFT", "RIGHT"],
            ["LMPOP", "2", "nol", "l1", "RIGHT", "COUNT", "2"],
            ["BLPOP", "nol", "big", "0"], ["BRPOP", "big", "0"], ["BLMPOP", "0", "1", "big", "LEFT", "COUNT", "3"],
            ["BLMOVE", "big", "l3", "RIGHT", "LEFT", "0"], ["BRPOPLPUSH", "big", "l3", "0"],
            ["EXPIRE", "l3", "1000"], ["RPUSH", "l3", "more"],
            ["RPUSH", "gone", "a"], ["LPOP", "gone"], ["RPUSH", "trimmed", "a", "b"], ["LTRIM", "trimmed", "5", "1"],
            ["SELECT", "2"], ["RPUSH", "d2", "x", "12345", ""], ["SELECT", "0"],
        ];
        return w;
    }

    /// <summary>The workload's outcome as real Redis 7.0.15 computed it, so two servers cannot pass by agreeing on a wrong one.</summary>
    static void AssertWorkloadEffects(IReadOnlyDictionary<string, string> lists)
    {
        Assert.Equal(["0:big", "0:l1", "0:l2", "0:l3", "2:d2"], lists.Keys);
        Assert.Equal("S,a", lists["0:l1"]);
        Assert.Equal("c,y", lists["0:l2"]);
        Assert.Equal("e297,e298,more", lists["0:l3"]);
        Assert.Equal("x,12345,", lists["2:d2"]);
        Assert.Equal(string.Join(",", Enumerable.Range(4, 293).Select(i => $"e{i}")), lists["0:big"]);
    }

    /// <summary>"db:key" → the whole list, over the databases the workload uses.</summary>
    static async Task<SortedDictionary<string, string>> ListsAsync(Running server)
    {
        await using var client = await server.ConnectAsync();
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var db in new[] { "0", "2" })
        {
            Assert.Equal("OK", await client.StatusAsync("SELECT", db));
            foreach (var key in (await client.ArrayAsync("KEYS", "*"))!.Select(k => ((Reply.Bulk)k).Text!))
            {
                var items = (await client.ArrayAsync("LRANGE", key, "0", "-1"))!.Select(i => ((Reply.Bulk)i).Text);
                result[$"{db}:{key}"] = string.Join(",", items);
            }
        }
        return result;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OurListAofLoadsInRealRedis(bool rewrite)
    {
        if (!Tools.Require(Output, "redis-server")) return;
        var dir = NewDir();
        var ours = await StartOursAsync(dir, "--appendfsync", "always");
        await RunAsync(ours, Workload());
        if (rewrite) await RewriteAsync(ours);
        var expected = await ListsAsync(ours);
        AssertWorkloadEffects(expected);
        var digest = await ours.DigestAsync();
        Output.WriteLine($"ours (digest {digest}): {string.Join("; ", expected.Select(p => $"{p.Key}=[{p.Value}]"))}");
        await StopAsync(ours);

        var copy = NewDir();
        AofFiles.CopyDirectory(dir, copy);
        var redis = await StartRedisAsync(copy);
        Assert.Equal(expected, await ListsAsync(redis));
        Assert.Equal(digest, await redis.DigestAsync());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RealRedisListAofLoadsInOurs(bool rewrite)
    {
        if (!Tools.Require(Output, "redis-server")) return;
        var dir = NewDir();
        var redis = await StartRedisAsync(dir);
        await RunAsync(redis, Workload());
        if (rewrite) await RewriteAsync(redis);
        var expected = await ListsAsync(redis);
        AssertWorkloadEffects(expected);
        var digest = await redis.DigestAsync();
        Output.WriteLine($"redis (digest {digest}): {string.Join("; ", expected.Select(p => $"{p.Key}=[{p.Value}]"))}");
        await StopAsync(redis);

        var copy = NewDir();
        AofFiles.CopyDirectory(dir, copy);
        var ours = await StartOursAsync(copy);
        Assert.Equal(expected, await ListsAsync(ours));
        Assert.Equal(digest, await ours.DigestAsync());
    }
}
