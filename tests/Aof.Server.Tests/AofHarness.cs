using System.Text;
using Xunit.Abstractions;

namespace Aof.Server.Tests;

/// <summary>A server child process with AOF on, and the port it serves.</summary>
public sealed record Running(ServerProcess Process, int Port, string Dir)
{
    public Task<TestClient> ConnectAsync() => TestClient.ConnectAsync(Port);

    /// <summary>SIGTERM, then the exit code (null if it did not exit in time).</summary>
    public Task<int?> TerminateAsync(TimeSpan? timeout = null)
    {
        Process.Signal(ServerProcess.SIGTERM);
        return Process.WaitForExitAsync(timeout ?? TimeSpan.FromSeconds(15));
    }

    public async Task<string> DigestAsync()
    {
        await using var client = await ConnectAsync();
        return await client.StatusAsync("DEBUG", "DIGEST");
    }
}

/// <summary>
/// Base of the tests that run our server and real redis-server as child processes on real AOF
/// directories: it starts them, prints their output after the test, kills what is left and deletes the
/// directories it made.
/// </summary>
public abstract class AofProcessTests(ITestOutputHelper output) : IAsyncLifetime
{
    protected readonly ITestOutputHelper Output = output;
    protected static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    readonly List<ServerProcess> started = [];

    /// <summary>Runs commands on one connection, failing on any error reply (inside EXEC too).</summary>
    protected static async Task RunAsync(Running server, IEnumerable<string[]> commands)
    {
        await using var client = await server.ConnectAsync();
        foreach (var command in commands)
        {
            var reply = await client.CallAsync(command);
            var errors = reply is Reply.Array { Items: { } items } ? items.OfType<Reply.Error>().ToList() : [];
            if (reply is Reply.Error e) errors.Add(e);
            Assert.True(errors.Count == 0, $"{Dataset.Short(string.Join(' ', command))} → {reply}");
        }
    }

    /// <summary>BGREWRITEAOF, then waits (bounded) until INFO says no rewrite runs or is scheduled.</summary>
    protected static async Task RewriteAsync(Running server)
    {
        await using var client = await server.ConnectAsync();
        Assert.StartsWith("Background append only file rewriting", await client.StatusAsync("BGREWRITEAOF"));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var info = (await client.BulkAsync("INFO", "persistence"))!;
            if (info.Contains("aof_rewrite_in_progress:0") && info.Contains("aof_rewrite_scheduled:0")) break;
            Assert.True(DateTime.UtcNow < deadline, $"BGREWRITEAOF did not finish:\n{info}");
            await Task.Delay(20);
        }
    }
    readonly List<string> dirs = [];

    protected string NewDir()
    {
        var dir = Tools.TempDir();
        dirs.Add(dir);
        return dir;
    }

    /// <summary>Our server with the AOF on in <paramref name="dir"/> (DEBUG allowed), not waited for.</summary>
    protected Running LaunchOurs(string dir, params string[] extra)
    {
        var port = Tools.FreePort();
        var process = ServerProcess.Start(
            TestServer.Arguments(port, dir, realRedis: false, ["--appendonly", "yes", "--enable-debug-command", "yes", .. extra]),
            realRedis: false);
        started.Add(process);
        return new Running(process, port, dir);
    }

    /// <summary>Our server, once it answers PING (so after loading).</summary>
    protected async Task<Running> StartOursAsync(string dir, params string[] extra)
    {
        var server = LaunchOurs(dir, extra);
        await server.Process.WaitUntilServingAsync(server.Port, StartTimeout);
        return server;
    }

    /// <summary>Real redis-server with a plain-RESP AOF in <paramref name="dir"/>, once it answers PING.</summary>
    protected async Task<Running> StartRedisAsync(string dir, params string[] extra)
    {
        var port = Tools.FreePort();
        var process = ServerProcess.Start(
            TestServer.Arguments(port, dir, realRedis: true,
                ["--appendonly", "yes", "--aof-use-rdb-preamble", "no", "--enable-debug-command", "yes", .. extra]),
            realRedis: true);
        started.Add(process);
        var server = new Running(process, port, dir);
        await process.WaitUntilServingAsync(port, StartTimeout);
        return server;
    }

    /// <summary>SIGTERM and expect a clean exit (0).</summary>
    protected static async Task StopAsync(Running server)
    {
        var exit = await server.TerminateAsync();
        Assert.True(exit == 0, $"expected exit 0 after SIGTERM, got {exit?.ToString() ?? "no exit"}:\n{server.Process.Output}");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var process in started)
        {
            var lines = process.Lines;
            // A loaded process can print a lot; the start and the end say what matters.
            var shown = lines.Count <= 80 ? lines : [.. lines.Take(40), "...", .. lines.TakeLast(40)];
            Output.WriteLine($"--- output of pid {process.Pid}:\n{string.Join('\n', shown)}");
            await process.DisposeAsync();
        }
        foreach (var dir in dirs)
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Files of a Redis 7 AOF directory, built or inspected byte by byte.</summary>
public static class AofFiles
{
    public const string DirName = "appendonlydir";
    public const string Manifest = "appendonly.aof.manifest";
    public const string Base1 = "appendonly.aof.1.base.aof";
    public const string Incr1 = "appendonly.aof.1.incr.aof";

    public static string AofDir(string dir) => Path.Combine(dir, DirName);
    public static string PathOf(string dir, string file) => Path.Combine(dir, DirName, file);

    /// <summary>A command as the AOF holds it: the RESP array a client sends.</summary>
    public static byte[] Cmd(params string[] args) => TestClient.Encode(args);

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>Writes a manifest naming base 1 and incr 1 (as Redis 7 starts a fresh directory) and the two files.</summary>
    public static void WriteLayout(string dir, byte[] baseFile, byte[] incrFile)
    {
        Directory.CreateDirectory(AofDir(dir));
        File.WriteAllBytes(PathOf(dir, Base1), baseFile);
        File.WriteAllBytes(PathOf(dir, Incr1), incrFile);
        File.WriteAllText(PathOf(dir, Manifest), $"file {Base1} seq 1 type b\nfile {Incr1} seq 1 type i\n");
    }

    /// <summary>Copies a directory tree (a stopped server's data, to hand to another server).</summary>
    public static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var sub in Directory.GetDirectories(from))
            CopyDirectory(sub, Path.Combine(to, Path.GetFileName(sub)));
    }

    /// <summary>The manifest's lines, for messages.</summary>
    public static string ManifestText(string dir) =>
        File.Exists(PathOf(dir, Manifest)) ? File.ReadAllText(PathOf(dir, Manifest)) : "(no manifest)";
}

/// <summary>One key as a client sees it: its value and its absolute expiry (-1 for none).</summary>
public sealed record KeyState(string? Value, long ExpireAtMs);

/// <summary>
/// Every key of every database read through plain commands (SCAN, GET, PEXPIRETIME; no DUMP), so two
/// servers' datasets can be compared key by key.
/// </summary>
public static class Dataset
{
    public const int Databases = 16;

    /// <summary>"db:key" → state, over all databases.</summary>
    public static async Task<SortedDictionary<string, KeyState>> ReadAsync(Running server)
    {
        await using var client = await server.ConnectAsync();
        var result = new SortedDictionary<string, KeyState>(StringComparer.Ordinal);
        for (var db = 0; db < Databases; db++)
        {
            Assert.Equal("OK", await client.StatusAsync("SELECT", db.ToString()));
            var keys = new HashSet<string>(StringComparer.Ordinal);
            var cursor = "0";
            do
            {
                var reply = await client.ArrayAsync("SCAN", cursor, "COUNT", "1000");
                cursor = ((Reply.Bulk)reply![0]).Text!;
                foreach (var key in ((Reply.Array)reply[1]).Items!) keys.Add(((Reply.Bulk)key).Text!);
            } while (cursor != "0");
            foreach (var key in keys)
            {
                var value = await ValueAsync(client, key);
                var expireAt = await client.IntAsync("PEXPIRETIME", key);
                result[$"{db}:{key}"] = new KeyState(value, expireAt);
            }
        }
        return result;
    }

    /// <summary>
    /// A key's value as text, whatever its type: a string as it is; a collection as its type and elements,
    /// in order for lists and sorted sets (with scores), sorted for hashes and sets, whose order is the server's.
    /// </summary>
    static async Task<string?> ValueAsync(TestClient client, string key)
    {
        static IEnumerable<string> Texts(Reply[]? items) => items!.Select(i => ((Reply.Bulk)i).Text!);
        switch (await client.StatusAsync("TYPE", key))
        {
            case "string":
                return await client.BulkAsync("GET", key);
            case "list":
                return "list:" + string.Join("|", Texts(await client.ArrayAsync("LRANGE", key, "0", "-1")));
            case "set":
                return "set:" + string.Join("|", Texts(await client.ArrayAsync("SMEMBERS", key)).Order(StringComparer.Ordinal));
            case "hash":
                var flat = Texts(await client.ArrayAsync("HGETALL", key)).ToArray();
                var pairs = Enumerable.Range(0, flat.Length / 2).Select(i => flat[2 * i] + "=" + flat[2 * i + 1]);
                return "hash:" + string.Join("|", pairs.Order(StringComparer.Ordinal));
            case "zset":
                return "zset:" + string.Join("|", Texts(await client.ArrayAsync("ZRANGE", key, "0", "-1", "WITHSCORES")));
            case var other:
                return $"unsupported type {other}";
        }
    }

    /// <summary>
    /// Same keys in the same databases, same values, and expiry times within a second of each other (both
    /// servers write absolute times, so they normally match exactly).
    /// </summary>
    public static void AssertSame(IReadOnlyDictionary<string, KeyState> expected, IReadOnlyDictionary<string, KeyState> actual, string what)
    {
        var missing = expected.Keys.Except(actual.Keys).ToList();
        var extra = actual.Keys.Except(expected.Keys).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{what}: missing keys [{string.Join(", ", missing)}], unexpected keys [{string.Join(", ", extra)}]");
        foreach (var (key, want) in expected)
        {
            var got = actual[key];
            Assert.True(want.Value == got.Value, $"{what}: {key} is \"{Short(got.Value)}\", expected \"{Short(want.Value)}\"");
            var sameExpiry = want.ExpireAtMs < 0
                ? got.ExpireAtMs == want.ExpireAtMs
                : got.ExpireAtMs >= 0 && Math.Abs(got.ExpireAtMs - want.ExpireAtMs) <= 1000;
            Assert.True(sameExpiry, $"{what}: {key} expires at {got.ExpireAtMs}, expected {want.ExpireAtMs} (±1 s)");
        }
    }

    public static string Show(IReadOnlyDictionary<string, KeyState> data) =>
        new StringBuilder().AppendJoin('\n', data.Select(kv => $"{kv.Key} = {Short(kv.Value.Value)} (expire at {kv.Value.ExpireAtMs})")).ToString();

    /// <summary>A value for a message: long ones cut, with their length.</summary>
    public static string? Short(string? value) =>
        value is { Length: > 80 } ? $"{value[..60]}... ({value.Length} chars)" : value;
}
