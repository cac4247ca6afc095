using System.Text;
using Xunit.Abstractions;

namespace Aof.Server.Tests;

/// <summary>
/// Redis's own clients against our server. Each test starts its own server so
/// DBSIZE and the benchmark see only their own data. Without redis-cli/redis-benchmark they skip
/// locally and fail under CI=true.
/// </summary>
public sealed class CompatibilityTests(ITestOutputHelper output)
{
    async Task<string> Cli(TestServer server, params string[] args)
    {
        var result = await Tools.RunAsync("redis-cli", ["-p", server.Port.ToString(), .. args], timeout: TimeSpan.FromSeconds(30));
        output.WriteLine($"redis-cli {string.Join(' ', args)} → {result.Stdout.TrimEnd()}");
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.Stdout;
    }

    [Fact]
    public async Task RedisCliRunsCommands()
    {
        if (!Tools.Require(output, "redis-cli")) return;
        await using var server = await TestServer.StartAsync();
        // Not a terminal, so redis-cli prints replies raw unless told --no-raw.
        Assert.Equal("OK\n", await Cli(server, "set", "k", "v"));
        Assert.Equal("v\n", await Cli(server, "get", "k"));
        Assert.Equal("1\n", await Cli(server, "incr", "n"));
        Assert.Equal("v\n", await Cli(server, "--raw", "get", "k"));
        Assert.Equal("(integer) 2\n", await Cli(server, "--no-raw", "incr", "n"));
        Assert.Equal("(nil)\n", await Cli(server, "--no-raw", "get", "missing"));
        Assert.Equal("PONG\n", await Cli(server, "ping"));
    }

    [Fact]
    public async Task RedisCliRunsCollectionCommands()
    {
        if (!Tools.Require(output, "redis-cli")) return;
        await using var server = await TestServer.StartAsync();
        // redis-cli's own rendering (--no-raw) of each reply type the collections answer with, as it prints
        // them for redis-server 7.0.15.
        Assert.Equal("(integer) 3\n", await Cli(server, "--no-raw", "rpush", "l", "a", "b", "c"));
        Assert.Equal("1) \"a\"\n2) \"b\"\n3) \"c\"\n", await Cli(server, "--no-raw", "lrange", "l", "0", "-1"));
        Assert.Equal("1) \"l\"\n2) \"a\"\n", await Cli(server, "--no-raw", "blpop", "l", "0"));
        Assert.Equal("(integer) 2\n", await Cli(server, "--no-raw", "hset", "h", "f", "v", "g", "w"));
        Assert.Equal("\"v\"\n", await Cli(server, "--no-raw", "hget", "h", "f"));
        Assert.Equal("(integer) 2\n", await Cli(server, "--no-raw", "sadd", "s", "x", "y"));
        Assert.Equal("1) (integer) 1\n2) (integer) 0\n", await Cli(server, "--no-raw", "smismember", "s", "x", "z"));
        Assert.Equal("(integer) 2\n", await Cli(server, "--no-raw", "zadd", "z", "1.5", "m", "2", "n"));
        Assert.Equal("1) \"m\"\n2) \"1.5\"\n3) \"n\"\n4) \"2\"\n", await Cli(server, "--no-raw", "zrange", "z", "0", "-1", "withscores"));
        Assert.Equal("\"1.1000000000000001\"\n", await Cli(server, "--no-raw", "zincrby", "z", "-0.4", "m"));
        Assert.Equal("list\nhash\nset\nzset\n", string.Concat(
            await Cli(server, "type", "l"), await Cli(server, "type", "h"), await Cli(server, "type", "s"), await Cli(server, "type", "z")));
        Assert.Equal("quicklist\nlistpack\nhashtable\nlistpack\n", string.Concat(
            await Cli(server, "object", "encoding", "l"), await Cli(server, "object", "encoding", "h"),
            await Cli(server, "object", "encoding", "s"), await Cli(server, "object", "encoding", "z")));
        Assert.Equal("(error) WRONGTYPE Operation against a key holding the wrong kind of value\n", await Cli(server, "--no-raw", "lpush", "h", "x"));
        Assert.Equal("(nil)\n", await Cli(server, "--no-raw", "blpop", "empty", "0.01"));
    }

    [Fact]
    public async Task RedisCliPipeMassInsertion()
    {
        if (!Tools.Require(output, "redis-cli")) return;
        await using var server = await TestServer.StartAsync();
        const int count = 10_000;
        var input = new MemoryStream();
        for (var i = 0; i < count; i++) input.Write(TestClient.Encode("SET", $"key:{i}", $"value:{i}"));
        var result = await Tools.RunAsync("redis-cli", ["-p", server.Port.ToString(), "--pipe"], input.ToArray(), TimeSpan.FromSeconds(60));
        output.WriteLine(result.ToString());
        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"errors: 0, replies: {count}", result.Stdout);
        await using var client = await server.ConnectAsync();
        Assert.Equal(count, await client.IntAsync("DBSIZE"));
        Assert.Equal("value:9999", await client.BulkAsync("GET", "key:9999"));
    }

    [Fact]
    public async Task RedisBenchmarkCompletesWithoutErrors()
    {
        if (!Tools.Require(output, "redis-benchmark")) return;
        await using var server = await TestServer.StartAsync();
        var result = await Tools.RunAsync("redis-benchmark",
            ["-p", server.Port.ToString(), "-t", "set,get,incr", "-n", "2000", "-c", "10", "-q"], timeout: TimeSpan.FromSeconds(120));
        output.WriteLine(result.ToString());
        Assert.Equal(0, result.ExitCode);
        // -q rewrites a progress line with \r; the last state of each line holds the result.
        var lines = result.Stdout.Split('\n').Select(l => l.Split('\r').Last().Trim()).Where(l => l.Length > 0).ToList();
        foreach (var test in new[] { "SET", "GET", "INCR" })
            Assert.Contains(lines, l => l.StartsWith(test + ": ", StringComparison.Ordinal) && l.Contains("requests per second"));
        var all = result.Stdout + result.Stderr;
        Assert.DoesNotContain("ERR", all);
        Assert.DoesNotContain("Error", all, StringComparison.OrdinalIgnoreCase);
    }
}
