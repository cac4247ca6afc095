using System.Text;

namespace Aof.Server.Tests;

/// <summary>
/// Redis writes a command to the AOF before its reply leaves. The host commits once per round of its
/// event loop (one write(2) for every client's batch in it), so with many clients at once each reply must
/// still come after its own command is in the file, under every fsync policy.
/// </summary>
public sealed class WriteBeforeReplyTests
{
    [Theory]
    [InlineData("always")]
    [InlineData("everysec")]
    [InlineData("no")]
    public async Task EveryReplyComesAfterItsCommandIsInTheIncrFile(string policy)
    {
        if (TestServer.Target != Target.InProcess) return; // the file is read from this process's directory
        await using var server = await TestServer.StartAsync("--appendonly", "yes", "--appendfsync", policy);
        var incr = () => Directory.GetFiles(Path.Combine(server.Dir, "appendonlydir"), "*.incr.aof").Single();

        var missing = new List<string>();
        async Task Client(int id)
        {
            await using var client = await server.ConnectAsync();
            for (var n = 0; n < 25; n++)
            {
                var key = $"c{id}:k{n}";
                Assert.Equal("OK", await client.StatusAsync("SET", key, "v"));
                // Read as the bytes on disk now: shared, since the server keeps the file open for appending.
                using var file = new FileStream(incr(), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var reader = new StreamReader(file, Encoding.Latin1);
                if (!(await reader.ReadToEndAsync()).Contains($"\r\n{key}\r\n"))
                    lock (missing) missing.Add(key);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 16).Select(Client));
        Assert.Empty(missing);
    }
}
