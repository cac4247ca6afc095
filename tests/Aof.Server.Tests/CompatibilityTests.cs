using System.Text;
using Xunit.Abstractions;

namespace Aof.Server.Tests;

/// <summary>
/// Redis's own clients against our server. BLOCKED ON THE ENGINE. Each test starts its own server so
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
