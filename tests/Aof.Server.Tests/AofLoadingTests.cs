using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Aof.Server.Tests;

/// <summary>
/// Loading as an operator sees it, with our compiled server on real files: a torn tail (truncated or
/// fatal, per aof-load-truncated), garbage (fatal, with its offset), -LOADING while a big file loads, and
/// SIGTERM flushing before exit 0. Where real redis-server is installed, the damaged directories are
/// also given to it, to show it decides the same way.
/// </summary>
public sealed partial class AofLoadingTests(ITestOutputHelper output) : AofProcessTests(output)
{
    const string LoadingError = "LOADING Redis is loading the dataset in memory";

    /// <summary>A directory our server wrote (keys a, b, c in db 0 and d in db 2) and stopped cleanly; the incr file's length.</summary>
    async Task<(string Dir, long IncrLength)> WrittenDirAsync()
    {
        var dir = NewDir();
        var server = await StartOursAsync(dir);
        await using (var client = await server.ConnectAsync())
        {
            Assert.Equal("OK", await client.StatusAsync("SET", "a", "1"));
            Assert.Equal("OK", await client.StatusAsync("SET", "b", "2"));
            Assert.Equal(1, await client.IntAsync("INCR", "c"));
            Assert.Equal("OK", await client.StatusAsync("SELECT", "2"));
            Assert.Equal("OK", await client.StatusAsync("SET", "d", "4"));
        }
        await StopAsync(server);
        var length = new FileInfo(AofFiles.PathOf(dir, AofFiles.Incr1)).Length;
        Assert.True(length > 0, $"nothing in the incr file; manifest:\n{AofFiles.ManifestText(dir)}");
        return (dir, length);
    }

    static void AppendTo(string dir, string file, byte[] bytes)
    {
        using var stream = new FileStream(AofFiles.PathOf(dir, file), FileMode.Append);
        stream.Write(bytes);
    }

    /// <summary>A copy of <paramref name="dir"/> for another server to load (loading may change the files).</summary>
    string CopyOf(string dir)
    {
        var copy = NewDir();
        AofFiles.CopyDirectory(dir, copy);
        return copy;
    }

    async Task AssertOriginalKeysAsync(Running server)
    {
        await using var client = await server.ConnectAsync();
        Assert.Equal("1", await client.BulkAsync("GET", "a"));
        Assert.Equal("2", await client.BulkAsync("GET", "b"));
        Assert.Equal("1", await client.BulkAsync("GET", "c"));
        Assert.Equal(3, await client.IntAsync("DBSIZE"));
        Assert.Equal("OK", await client.StatusAsync("SELECT", "2"));
        Assert.Equal("4", await client.BulkAsync("GET", "d"));
        Assert.Equal(1, await client.IntAsync("DBSIZE"));
    }

    /// <summary>Expects our server to refuse to start: exit code 1 and every one of <paramref name="logged"/> in its output.</summary>
    async Task AssertFatalAsync(string dir, string[] args, params string[] logged)
    {
        var server = LaunchOurs(dir, args);
        var exit = await server.Process.WaitForExitAsync(StartTimeout);
        Assert.True(exit == 1, $"expected exit 1, got {exit?.ToString() ?? "no exit"}:\n{server.Process.Output}");
        foreach (var text in logged)
            Assert.True(await server.Process.WaitForLineAsync(text, TimeSpan.FromSeconds(5)), $"no \"{text}\" in:\n{server.Process.Output}");
    }

    /// <summary>Expects real redis-server to refuse the same directory with the same message.</summary>
    async Task AssertRedisFatalAsync(string dir, string[] args, string logged)
    {
        var port = Tools.FreePort();
        await using var redis = ServerProcess.Start(
            TestServer.Arguments(port, dir, realRedis: true, ["--appendonly", "yes", "--aof-use-rdb-preamble", "no", .. args]), realRedis: true);
        var exit = await redis.WaitForExitAsync(StartTimeout);
        Output.WriteLine($"--- real Redis:\n{redis.Output}");
        Assert.True(exit == 1, $"real Redis: expected exit 1, got {exit?.ToString() ?? "no exit"}");
        Assert.Contains(logged, redis.Output);
    }

    [Fact]
    public async Task TruncatedLastIncrFileIsCutWhenAllowedAndFatalWhenNot()
    {
        var (dir, length) = await WrittenDirAsync();
        var torn = AofFiles.Cmd("SET", "torn", "never acknowledged")[..^7];
        AppendTo(dir, AofFiles.Incr1, torn);
        var strict = CopyOf(dir);
        var forRedis = CopyOf(dir);

        await AssertFatalAsync(strict, ["--aof-load-truncated", "no"], "Unexpected end of file reading the append only file");
        Assert.Equal(length + torn.Length, new FileInfo(AofFiles.PathOf(strict, AofFiles.Incr1)).Length); // left as it was

        var server = await StartOursAsync(dir, "--aof-load-truncated", "yes");
        var truncating = server.Process.Lines.SingleOrDefault(l => l.Contains("!!! Truncating the AOF"));
        Assert.True(truncating is not null, server.Process.Output);
        Assert.Contains($"{AofFiles.Incr1} at offset {length}", truncating);
        Assert.Equal(length, new FileInfo(AofFiles.PathOf(dir, AofFiles.Incr1)).Length);
        await AssertOriginalKeysAsync(server);

        // New writes follow the cut directly: the next start reads a clean file with them in it.
        await using (var client = await server.ConnectAsync())
        {
            Assert.Null(await client.BulkAsync("GET", "torn"));
            Assert.Equal("OK", await client.StatusAsync("SET", "after", "cut"));
        }
        await StopAsync(server);
        var again = await StartOursAsync(dir, "--aof-load-truncated", "no");
        Assert.DoesNotContain(again.Process.Lines, l => l.Contains("Truncating"));
        await using (var client = await again.ConnectAsync())
            Assert.Equal("cut", await client.BulkAsync("GET", "after"));

        if (!Tools.Require(Output, "redis-server")) return;
        await AssertRedisFatalAsync(forRedis, ["--aof-load-truncated", "no"], "Unexpected end of file reading the append only file");
        var redis = await StartRedisAsync(forRedis, "--aof-load-truncated", "yes");
        Assert.Contains($"!!! Truncating the AOF {AofFiles.Incr1} at offset {length} !!!", redis.Process.Output);
        await AssertOriginalKeysAsync(redis);
    }

    [Fact]
    public async Task TransactionWithoutExecAtTheEndIsCutAtItsMulti()
    {
        var (dir, length) = await WrittenDirAsync();
        AppendTo(dir, AofFiles.Incr1, AofFiles.Concat(AofFiles.Cmd("MULTI"), AofFiles.Cmd("SET", "half", "tx"), AofFiles.Cmd("INCR", "c")));
        var forRedis = CopyOf(dir);

        var server = await StartOursAsync(dir, "--aof-load-truncated", "yes");
        Assert.Contains(server.Process.Lines, l => l.Contains("!!! Truncating the AOF") && l.Contains($"at offset {length}"));
        Assert.Equal(length, new FileInfo(AofFiles.PathOf(dir, AofFiles.Incr1)).Length);
        await AssertOriginalKeysAsync(server); // neither half of the transaction

        if (!Tools.Require(Output, "redis-server")) return;
        var redis = await StartRedisAsync(forRedis, "--aof-load-truncated", "yes");
        await AssertOriginalKeysAsync(redis);
        Assert.Equal(length, new FileInfo(AofFiles.PathOf(forRedis, AofFiles.Incr1)).Length);
    }

    [Fact]
    public async Task GarbageInTheMiddleIsFatalWithItsOffset()
    {
        var (dir, length) = await WrittenDirAsync();
        AppendTo(dir, AofFiles.Incr1, AofFiles.Concat("this is not an AOF\r\n"u8.ToArray(), AofFiles.Cmd("SET", "after", "garbage")));
        var forRedis = CopyOf(dir);
        var sizeBefore = new FileInfo(AofFiles.PathOf(dir, AofFiles.Incr1)).Length;

        // Even with aof-load-truncated yes: garbage is not a torn tail.
        await AssertFatalAsync(dir, ["--aof-load-truncated", "yes"],
            "Bad file format reading the append only file", $"{AofFiles.Incr1} at offset {length}");
        Assert.Equal(sizeBefore, new FileInfo(AofFiles.PathOf(dir, AofFiles.Incr1)).Length);

        if (!Tools.Require(Output, "redis-server")) return;
        await AssertRedisFatalAsync(forRedis, ["--aof-load-truncated", "yes"], "Bad file format reading the append only file");
    }

    [Fact]
    public async Task TruncatedBaseBeforeAnIncrFileIsFatalEvenWhenTruncationIsAllowed()
    {
        var dir = NewDir();
        AofFiles.WriteLayout(dir,
            AofFiles.Concat(AofFiles.Cmd("SELECT", "0"), AofFiles.Cmd("SET", "a", "1"), AofFiles.Cmd("SET", "b", "2")[..^3]),
            AofFiles.Concat(AofFiles.Cmd("SELECT", "0"), AofFiles.Cmd("SET", "c", "3")));
        var forRedis = CopyOf(dir);

        var baseBytes = File.ReadAllBytes(AofFiles.PathOf(dir, AofFiles.Base1));
        await AssertFatalAsync(dir, ["--aof-load-truncated", "yes"], "Unexpected end of file reading the append only file");
        Assert.Equal(baseBytes, File.ReadAllBytes(AofFiles.PathOf(dir, AofFiles.Base1)));

        if (!Tools.Require(Output, "redis-server")) return;
        // Redis 7.0 refuses too, in its own words (after cutting the base file, which ours leaves alone).
        await AssertRedisFatalAsync(forRedis, ["--aof-load-truncated", "yes"], "Fatal error: the truncated file is not the last file");
    }

    [GeneratedRegex(@"DB loaded from append only file: \d+\.\d{3} seconds")]
    private static partial Regex LoadedLine();

    [Fact]
    public async Task ClientsGetLoadingWhileABigFileLoads()
    {
        const int count = 300_000;
        var dir = NewDir();
        using (var file = new MemoryStream())
        {
            file.Write(AofFiles.Cmd("SELECT", "0"));
            for (var i = 0; i < count; i++) file.Write(AofFiles.Cmd("SET", $"key:{i:D7}", $"value:{i}"));
            AofFiles.WriteLayout(dir, file.ToArray(), []);
        }

        var server = LaunchOurs(dir);
        bool sawLoading = false, sawInfoLoading = false, loaded = false;
        var deadline = DateTime.UtcNow + StartTimeout;
        while (!loaded && !(sawLoading && sawInfoLoading))
        {
            Assert.True(DateTime.UtcNow < deadline, $"neither -LOADING nor PONG within {StartTimeout}:\n{server.Process.Output}");
            Assert.False(server.Process.HasExited, server.Process.Output);
            TestClient client;
            try
            {
                client = await server.ConnectAsync();
            }
            catch (System.Net.Sockets.SocketException)
            {
                await Task.Delay(5); // not listening yet
                continue;
            }
            await using (client)
            {
                var reply = await client.CallAsync("PING");
                if (reply is Reply.Status { Text: "PONG" })
                {
                    loaded = true;
                }
                else
                {
                    Assert.Equal(new Reply.Error(LoadingError), reply);
                    sawLoading = true;
                    Assert.Equal(new Reply.Error(LoadingError), await client.CallAsync("SET", "k", "v"));
                    var info = (await client.BulkAsync("INFO", "persistence"))!;
                    if (info.Contains("loading:1\r\n")) sawInfoLoading = true;
                }
            }
        }
        // Loading must be slow enough to watch; if this fails on a fast machine, make the file bigger.
        Assert.True(sawLoading && sawInfoLoading,
            $"loading finished before a client saw it (-LOADING: {sawLoading}, loading:1: {sawInfoLoading}); make the file bigger");

        await server.Process.WaitUntilServingAsync(server.Port, StartTimeout);
        await using (var client = await server.ConnectAsync())
        {
            Assert.Equal(count, await client.IntAsync("DBSIZE"));
            Assert.Equal($"value:{count - 1}", await client.BulkAsync("GET", $"key:{count - 1:D7}"));
            Assert.Contains("loading:0\r\n", (await client.BulkAsync("INFO", "persistence"))!);
        }
        var lines = server.Process.Lines.ToList();
        var loadedAt = lines.FindIndex(l => LoadedLine().IsMatch(l));
        var readyAt = lines.FindIndex(l => l.Contains("Ready to accept connections tcp"));
        Assert.True(loadedAt >= 0 && readyAt > loadedAt, server.Process.Output);
    }

    [Fact]
    public async Task SigtermFlushesExitsZeroAndTheDataIsThereAfterRestart()
    {
        const int count = 2000;
        var dir = NewDir();
        // `no` leaves syncing to the OS: only the shutdown's flush and fsync are asked for.
        var server = await StartOursAsync(dir, "--appendfsync", "no");
        await using (var client = await server.ConnectAsync())
        {
            // Pipelined, so the writes arrive in big batches right before the signal.
            var batch = new MemoryStream();
            for (var i = 0; i < count; i++)
            {
                batch.Write(TestClient.Encode("SET", $"k{i}", $"v{i}"));
                batch.Write(TestClient.Encode("INCR", "counter"));
            }
            await client.SendRawAsync(batch.ToArray());
            for (var i = 0; i < count; i++)
            {
                Assert.Equal(new Reply.Status("OK"), await client.ReadAsync());
                Assert.Equal(new Reply.Integer(i + 1), await client.ReadAsync());
            }
            var exit = await server.TerminateAsync();
            Assert.True(exit == 0, $"exit {exit}:\n{server.Process.Output}");
            Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
        }
        Assert.Contains("Calling fsync() on the AOF file.", server.Process.Output);

        var restarted = await StartOursAsync(dir);
        await using var check = await restarted.ConnectAsync();
        Assert.Equal(count + 1, await check.IntAsync("DBSIZE"));
        Assert.Equal(count.ToString(), await check.BulkAsync("GET", "counter"));
        Assert.Equal($"v{count - 1}", await check.BulkAsync("GET", $"k{count - 1}"));
    }
}
