using System.Diagnostics;
using System.Text;

namespace Aof.Server.Tests;

/// <summary>
/// Redis writes a command to the AOF before its reply leaves. The host commits once per round of its
/// event loop (one write(2) for every client's batch in it), so with many clients at once each reply must
/// still come after its own command is in the file. The one exception is Redis's too: under `everysec`,
/// while a background sync is still running, the write is postponed (for up to two seconds) and the
/// replies go out meanwhile.
/// </summary>
public sealed class WriteBeforeReplyTests
{
    /// The incr file's bytes as text, read while the server keeps it open for appending.
    static string IncrText(string dir)
    {
        var path = Directory.GetFiles(dir, "*.incr.aof").Single();
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(file, Encoding.Latin1);
        return reader.ReadToEnd();
    }

    [Theory]
    [InlineData("always", 0)]
    [InlineData("no", 0)]
    [InlineData("everysec", 3000)]
    public async Task EveryReplyComesAfterItsCommandIsInTheIncrFile(string policy, int graceMs)
    {
        if (TestServer.Target != Target.InProcess) return; // the file is read from this process's directory
        await using var server = await TestServer.StartAsync("--appendonly", "yes", "--appendfsync", policy);
        var dir = Path.Combine(server.Dir, "appendonlydir");
        await server.WaitUntilLoadedAsync();

        bool InFile(string key) => IncrText(dir).Contains($"\r\n{key}\r\n");

        var missing = new List<string>();
        async Task Client(int id)
        {
            await using var client = await server.ConnectAsync();
            for (var n = 0; n < 25; n++)
            {
                var key = $"c{id}:k{n}";
                Assert.Equal("OK", await client.StatusAsync("SET", key, "v"));
                var since = Stopwatch.StartNew();
                var found = InFile(key);
                while (!found && since.ElapsedMilliseconds < graceMs)
                {
                    await Task.Delay(20);
                    found = InFile(key);
                }
                if (!found) lock (missing) missing.Add(key);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 16).Select(Client));
        Assert.Empty(missing);
    }

    /// A key removed by the active expiry cycle (the timer, with no client asking) is logged as DEL and
    /// written out by the loop the timer rings, not left in the buffer until some client writes.
    [Theory]
    [InlineData("always")]
    [InlineData("everysec")]
    [InlineData("no")]
    public async Task ActiveExpiryDeletionReachesTheIncrFileWithoutClientTraffic(string policy)
    {
        if (TestServer.Target != Target.InProcess) return; // the file is read from this process's directory
        await using var server = await TestServer.StartAsync("--appendonly", "yes", "--appendfsync", policy);
        var dir = Path.Combine(server.Dir, "appendonlydir");
        await server.WaitUntilLoadedAsync();
        await using (var client = await server.ConnectAsync())
            Assert.Equal("OK", await client.StatusAsync("SET", "short-lived", "v", "PX", "50"));

        const string del = "*2\r\n$3\r\nDEL\r\n$11\r\nshort-lived\r\n";
        var since = Stopwatch.StartNew();
        while (!IncrText(dir).Contains(del) && since.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(20);
        Assert.Contains(del, IncrText(dir));
    }
}
