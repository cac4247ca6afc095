using Xunit.Abstractions;

namespace Aof.Server.Tests;

/// <summary>
/// AOF directories cross between our server and real Redis 7 in both directions: whatever one wrote, the
/// other loads to the same keys, values, expiry times, databases and DEBUG DIGEST. Real processes, real
/// files. Without redis-server (or redis-check-aof) they skip locally and fail under CI=true.
/// </summary>
public sealed class AofCompatibilityTests(ITestOutputHelper output) : AofProcessTests(output)
{
    /// <summary>
    /// Writes of every kind the AOF must carry, in two phases (real Redis rewrites its AOF between them).
    /// Expiry times are absolute and far enough away that nothing expires while a test runs.
    /// </summary>
    static (List<string[]> First, List<string[]> Second) Workload()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        List<string[]> first =
        [
            ["SET", "plain", "hello"],
            ["SET", "crlf", "two\r\nlines and spaces"],
            ["SET", "big", new string('b', 5 << 20)], // bigger than the loader's 4 MiB read chunk
            ["SET", "ex", "v", "EX", "1000"],
            ["SET", "px", "v", "PX", "500000"],
            ["SET", "pxat", "v"],
            ["PEXPIREAT", "pxat", (now + 2_000_000).ToString()],
            ["SETEX", "setex", "800", "v"],
            ["SET", "ttl-dropped", "v", "EX", "100"],
            ["SET", "ttl-dropped", "w"],
            ["INCR", "ctr"], ["INCR", "ctr"], ["INCR", "ctr"], ["INCRBY", "ctr", "10"], ["DECR", "ctr"],
            ["INCRBYFLOAT", "float", "1.5"],
            ["APPEND", "app", "abc"], ["APPEND", "app", "def"],
            ["SET", "range", "Hello World"], ["SETRANGE", "range", "6", "Redis"],
            ["SETRANGE", "padded", "3", "x"],
            ["SET", "ren1", "a"], ["RENAME", "ren1", "ren2"],
            ["SET", "ren3", "b", "EX", "3000"], ["RENAME", "ren3", "ren4"],
            ["SET", "mv", "moved"], ["MOVE", "mv", "5"],
            ["SET", "cp", "copied", "EX", "4000"], ["COPY", "cp", "cp2"], ["COPY", "cp", "cp3", "DB", "7"],
            ["SET", "gone", "v"], ["DEL", "gone"],
            ["SET", "per", "v"], ["EXPIRE", "per", "100"], ["PERSIST", "per"],
            ["SET", "past", "v"], ["EXPIRE", "past", "-1"],
            ["MULTI"], ["SET", "tx1", "a"], ["INCR", "tx2"], ["SELECT", "3"], ["SET", "tx3", "b", "EX", "600"], ["EXEC"],
            ["SELECT", "1"], ["SET", "d1", "x"], ["INCR", "d1c"], ["EXPIRE", "d1c", "900"],
            ["SELECT", "2"], ["SET", "d2", "y", "EX", "999"],
            ["SELECT", "4"], ["SET", "f1", "x"], ["SET", "f2", "y"], ["FLUSHDB"], ["SET", "after-flush", "z"],
            ["SELECT", "0"],
            // Collections: every type, with TTLs, in several databases, big enough to need several rewrite commands.
            ["RPUSH", "list", "a", "b", "c"], ["LPUSH", "list", "z"], ["LPOP", "list"], ["LINSERT", "list", "BEFORE", "b", "a2"],
            ["LSET", "list", "-1", "c2"], ["RPUSH", "emptied", "x"], ["RPOP", "emptied"],
            ["RPUSH", "longlist", .. Enumerable.Range(0, 300).Select(i => $"e{i}")], ["LTRIM", "longlist", "5", "-5"],
            ["HSET", "hash", "f1", "v1", "f2", "v2"], ["HDEL", "hash", "f1"], ["HINCRBY", "hash", "n", "7"],
            ["HINCRBYFLOAT", "hash", "fl", "0.1"], ["HINCRBYFLOAT", "hash", "fl", "0.2"], ["EXPIRE", "hash", "1000"],
            ["HSET", "bighash", .. Enumerable.Range(0, 200).SelectMany(i => new[] { $"f{i}", $"v{i}" })],
            ["SADD", "set", "a", "b", "c", "1", "2"], ["SREM", "set", "b"], ["SPOP", "set"], ["SMOVE", "set", "set2", "a"],
            ["SADD", "bigset", .. Enumerable.Range(0, 200).Select(i => $"m{i}")],
            ["SADD", "other", "m1", "m2", "x"], ["SINTERSTORE", "inter", "bigset", "other"], ["SUNIONSTORE", "union", "set", "other"],
            ["ZADD", "zset", "1", "a", "2.5", "b", "-inf", "low", "1e20", "high"], ["ZINCRBY", "zset", "0.1", "a"],
            ["ZADD", "zset", "GT", "CH", "0", "b", "3", "b"], ["ZPOPMIN", "zset"], ["ZREM", "zset", "nope"],
            ["ZADD", "bigz", .. Enumerable.Range(0, 200).SelectMany(i => new[] { (i * 0.5).ToString(System.Globalization.CultureInfo.InvariantCulture), $"m{i}" })],
            ["ZREMRANGEBYRANK", "bigz", "0", "9"], ["ZUNIONSTORE", "zu", "2", "zset", "set", "WEIGHTS", "2", "1"],
            ["SELECT", "8"], ["RPUSH", "l8", "x"], ["SADD", "s8", "y"], ["HSET", "h8", "f", "v"], ["ZADD", "z8", "1", "m"],
            ["PEXPIRE", "z8", "900000"], ["MOVE", "l8", "9"], ["COPY", "h8", "h8copy", "DB", "10"],
            ["SELECT", "0"],
        ];
        List<string[]> second =
        [
            ["SELECT", "15"], ["SET", "d15", "z"],
            ["SELECT", "0"],
            ["MSET", "m1", "a", "m2", "b"],
            ["SETNX", "nx", "v"], ["SETNX", "nx", "ignored"],
            ["SET", "gs", "old"], ["GETSET", "gs", "new"],
            ["SET", "ge", "v"], ["GETEX", "ge", "EX", "700"],
            ["SET", "gd", "v"], ["GETDEL", "gd"],
            ["INCR", "ctr"], ["APPEND", "app", "ghi"],
            ["MULTI"], ["INCRBY", "ctr", "100"], ["SETEX", "tx-setex", "1200", "t"], ["RENAME", "ren2", "ren5"], ["EXEC"],
            ["SET", "kept", "v", "EX", "1100"], ["SET", "kept", "w", "KEEPTTL"], ["SET", "kept", "x", "GET", "KEEPTTL"],
            ["PSETEX", "psetex", "900000", "p"],
            ["SET", "opts", "v"], ["EXPIRE", "opts", "1000", "NX"], ["EXPIRE", "opts", "2000", "GT"], ["EXPIRE", "opts", "10", "NX"],
            ["SET", "rnx", "a"], ["SET", "rnx-taken", "b"], ["RENAMENX", "rnx", "rnx-taken"], ["RENAMENX", "rnx", "rnx-free"],
            ["MSETNX", "mn1", "a", "mn2", "b"], ["MSETNX", "mn2", "x", "mn3", "y"],
            ["SET", "ul", "v"], ["UNLINK", "ul", "no-such-key"],
            ["SET", "dec", "10"], ["DECRBY", "dec", "25"],
            ["SET", "cpr", "new"], ["SET", "cpr-dst", "old", "EX", "50"], ["COPY", "cpr", "cpr-dst", "REPLACE"],
            ["SET", "gep", "v", "EX", "300"], ["GETEX", "gep", "PERSIST"],
            ["SET", "short", "v", "PX", "1"],
            ["SELECT", "1"], ["SWAPDB", "1", "2"], ["SET", "in-1-after-swap", "s"],
            ["SELECT", "0"], ["PEXPIRE", "plain", "1500000"],
            ["SET", "expireat", "v"], ["EXPIREAT", "expireat", ((now / 1000) + 5000).ToString()],
            ["RPUSH", "list", "d"], ["RPOPLPUSH", "list", "list2"], ["LMOVE", "list", "list2", "LEFT", "RIGHT"],
            ["HSETNX", "hash", "f3", "v3"], ["SADD", "set2", "q"], ["SPOP", "bigset", "3"],
            ["ZADD", "zset", "INCR", "5", "b"], ["ZREMRANGEBYSCORE", "bigz", "(20", "30"], ["RENAME", "zu", "zu2"],
            ["MULTI"], ["LPUSH", "txlist", "1"], ["HSET", "txhash", "a", "1"], ["SADD", "txset", "1"], ["ZADD", "txz", "1", "1"], ["EXEC"],
        ];
        return (first, second);
    }

    /// <summary>
    /// The workload's own effects, checked on the server that ran it, so a pair of servers that both lost
    /// something cannot pass by agreeing with each other.
    /// </summary>
    static void AssertWorkloadEffects(IReadOnlyDictionary<string, KeyState> data)
    {
        string? Value(string key) => data.TryGetValue(key, out var state) ? state.Value : null;
        Assert.Equal("113", Value("0:ctr"));
        Assert.Equal("abcdefghi", Value("0:app"));
        Assert.Equal("Hello Redis", Value("0:range"));
        Assert.Equal("\0\0\0x", Value("0:padded"));
        Assert.Equal("two\r\nlines and spaces", Value("0:crlf"));
        Assert.Equal("1.5", Value("0:float"));
        Assert.Equal("a", Value("0:ren5"));
        Assert.Equal("moved", Value("5:mv"));
        Assert.Equal("copied", Value("7:cp3"));
        Assert.Equal("b", Value("3:tx3"));
        Assert.Equal("z", Value("4:after-flush"));
        // SWAPDB 1 2 exchanged d1/d1c (written in 1) with d2 (written in 2).
        Assert.Equal("y", Value("1:d2"));
        Assert.Equal("x", Value("2:d1"));
        Assert.Equal("s", Value("1:in-1-after-swap"));
        foreach (var absent in new[] { "0:gone", "0:past", "0:gd", "0:ren1", "0:ren2", "0:ren3", "0:mv", "4:f1", "4:f2" })
            Assert.False(data.ContainsKey(absent), $"{absent} should not exist");
        Assert.Equal("x", Value("0:kept"));
        Assert.Equal("a", Value("0:rnx-free"));
        Assert.Equal("b", Value("0:rnx-taken"));
        Assert.Equal("-15", Value("0:dec"));
        Assert.Equal("new", Value("0:cpr-dst"));
        Assert.Equal("b", Value("0:mn2"));
        Assert.Equal(5 << 20, Value("0:big")?.Length);
        Assert.Equal("list:a2|b|c2", Value("0:list"));
        Assert.Equal("list:d|a", Value("0:list2"));
        Assert.Equal("hash:f2=v2|f3=v3|fl=0.3|n=7", Value("0:hash"));
        Assert.Equal("zset:m|1", Value("8:z8"));
        Assert.Equal("list:x", Value("9:l8"));
        Assert.Equal("hash:f=v", Value("10:h8copy"));
        Assert.Equal(291, Value("0:longlist")?.Split('|').Length);
        foreach (var absent in new[] { "0:emptied", "8:l8" })
            Assert.False(data.ContainsKey(absent), $"{absent} should not exist");
        foreach (var absent in new[] { "0:mn3", "0:ul", "0:rnx", "0:short" })
            Assert.False(data.ContainsKey(absent), $"{absent} should not exist");
        Assert.Equal(-1, data["0:cpr-dst"].ExpireAtMs);
        Assert.Equal(-1, data["0:gep"].ExpireAtMs);
        Assert.Equal(-1, data["0:per"].ExpireAtMs);
        Assert.Equal(-1, data["0:ttl-dropped"].ExpireAtMs);
        foreach (var withTtl in new[] { "0:ex", "0:px", "0:pxat", "0:setex", "0:ren4", "0:cp", "0:cp2", "7:cp3", "2:d1c", "1:d2", "0:ge", "0:plain", "0:expireat", "0:tx-setex", "3:tx3", "0:kept", "0:psetex", "0:opts" })
            Assert.True(data[withTtl].ExpireAtMs > DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), $"{withTtl} should have a TTL");
    }

    /// <summary>Every byte value, so the files carry binary-safe bulk strings.</summary>
    static readonly byte[] AllBytes = Enumerable.Range(0, 256).Select(b => (byte)b).ToArray();

    /// <summary>
    /// The end of the workload: a binary value in db 6, then waits (bounded) until the 1 ms key has expired
    /// and been deleted, so the deletion is in the AOF and both servers agree on it.
    /// </summary>
    static async Task FinishWorkloadAsync(Running server)
    {
        await using var client = await server.ConnectAsync();
        Assert.Equal("OK", await client.StatusAsync("SELECT", "6"));
        Assert.Equal(new Reply.Status("OK"), await client.CallAsync("SET"u8.ToArray(), "binary"u8.ToArray(), AllBytes));
        Assert.Equal("OK", await client.StatusAsync("SELECT", "0"));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (await client.BulkAsync("GET", "short") is not null)
        {
            Assert.True(DateTime.UtcNow < deadline, "a key with a 1 ms TTL still exists after 10 s");
            await Task.Delay(5);
        }
    }

    async Task<Tools.Result> CheckAofAsync(string dir)
    {
        var result = await Tools.RunAsync("redis-check-aof", [AofFiles.PathOf(dir, AofFiles.Manifest)], timeout: TimeSpan.FromSeconds(60));
        Output.WriteLine($"redis-check-aof:\n{result}");
        return result;
    }

    [Theory]
    [InlineData("no")]
    [InlineData("yes")] // #TS: annotations in the incr file
    public async Task OurDirectoryLoadsInRealRedis(string timestamps)
    {
        if (!Tools.Require(Output, "redis-server")) return;
        var dir = NewDir();
        var ours = await StartOursAsync(dir, "--appendfsync", "always", "--aof-timestamp-enabled", timestamps);
        var (first, second) = Workload();
        await RunAsync(ours, [.. first, .. second]);
        await FinishWorkloadAsync(ours);
        var expected = await Dataset.ReadAsync(ours);
        var digest = await ours.DigestAsync();
        Output.WriteLine($"our dataset (digest {digest}):\n{Dataset.Show(expected)}");
        Assert.NotEqual(new string('0', 40), digest);
        AssertWorkloadEffects(expected);
        await StopAsync(ours);
        Assert.Equal(timestamps == "yes", File.ReadAllText(AofFiles.PathOf(dir, AofFiles.Incr1)).Contains("#TS:"));

        var copy = NewDir();
        AofFiles.CopyDirectory(dir, copy);
        var redis = await StartRedisAsync(copy);
        Assert.True(await redis.Process.WaitForLineAsync("DB loaded from append only file", TimeSpan.FromSeconds(5)), redis.Process.Output);
        Dataset.AssertSame(expected, await Dataset.ReadAsync(redis), "real Redis loading our AOF");
        Assert.Equal(digest, await redis.DigestAsync());

        // And our own server reloads its files the same way.
        var again = await StartOursAsync(dir);
        Dataset.AssertSame(expected, await Dataset.ReadAsync(again), "our server reloading its AOF");
        Assert.Equal(digest, await again.DigestAsync());
    }

    [Theory]
    [InlineData("no")]
    [InlineData("yes")] // #TS: annotations in the incr file
    public async Task RealRedisDirectoryWithRewrittenBaseLoadsInOurs(string timestamps)
    {
        if (!Tools.Require(Output, "redis-server")) return;
        var dir = NewDir();
        var redis = await StartRedisAsync(dir, "--aof-timestamp-enabled", timestamps);
        var (first, second) = Workload();
        await RunAsync(redis, first);

        await RewriteAsync(redis);
        await RunAsync(redis, second);
        await FinishWorkloadAsync(redis);
        var expected = await Dataset.ReadAsync(redis);
        AssertWorkloadEffects(expected);
        var digest = await redis.DigestAsync();
        Output.WriteLine($"Redis's dataset (digest {digest}):\n{Dataset.Show(expected)}");
        await StopAsync(redis);

        var manifest = AofFiles.ManifestText(dir);
        Output.WriteLine($"manifest:\n{manifest}");
        var baseName = manifest.Split('\n').Select(l => l.Split(' ')).Single(f => f.Length >= 6 && f[5] == "b")[1];
        Assert.NotEqual(AofFiles.Base1, baseName); // the rewrite made base 2
        Assert.True(new FileInfo(AofFiles.PathOf(dir, baseName)).Length > 0, "the rewritten base is empty");
        // Plain RESP (with aof-timestamp-enabled, after a #TS: line), no RDB preamble.
        Assert.StartsWith(timestamps == "yes" ? "#TS:" : "*2\r\n$6\r\nSELECT", File.ReadAllText(AofFiles.PathOf(dir, baseName)));

        // Redis annotates when the second changes, so where the #TS: lines fall varies; that there are some does not.
        Assert.Equal(timestamps == "yes",
            Directory.GetFiles(AofFiles.AofDir(dir), "*.aof").Any(f => File.ReadAllText(f).Contains("#TS:")));

        var copy = NewDir();
        AofFiles.CopyDirectory(dir, copy);
        var ours = await StartOursAsync(copy);
        Dataset.AssertSame(expected, await Dataset.ReadAsync(ours), "our server loading Redis's AOF");
        Assert.Equal(digest, await ours.DigestAsync());
    }

    [Fact]
    public async Task LegacySingleFileIsUpgradedAndRealRedisLoadsTheResult()
    {
        if (!Tools.Require(Output, "redis-server") || !Tools.Require(Output, "redis-check-aof")) return;
        var dir = NewDir();
        var expireAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 3_000_000;
        // What Redis 6 appended: a SELECT first, commands as clients sent them, SET EX and EXPIRE turned
        // into PEXPIREAT, transactions wrapped in MULTI/EXEC.
        var legacy = AofFiles.Concat(
            AofFiles.Cmd("SELECT", "0"),
            AofFiles.Cmd("set", "a", "1"),
            AofFiles.Cmd("set", "b", "x"),
            AofFiles.Cmd("PEXPIREAT", "b", expireAt.ToString()),
            AofFiles.Cmd("incr", "n"),
            AofFiles.Cmd("incr", "n"),
            AofFiles.Cmd("MULTI"),
            AofFiles.Cmd("set", "t1", "1"),
            AofFiles.Cmd("incrby", "n", "5"),
            AofFiles.Cmd("EXEC"),
            AofFiles.Cmd("set", "doomed", "x"),
            AofFiles.Cmd("del", "doomed"),
            AofFiles.Cmd("SELECT", "3"),
            AofFiles.Cmd("set", "c3", "v"),
            AofFiles.Cmd("append", "c3", "w"));
        var legacyPath = Path.Combine(dir, "appendonly.aof");
        File.WriteAllBytes(legacyPath, legacy);

        var ours = await StartOursAsync(dir);
        var loaded = await Dataset.ReadAsync(ours);
        Output.WriteLine(Dataset.Show(loaded));
        Assert.Equal(["0:a", "0:b", "0:n", "0:t1", "3:c3"], loaded.Keys.ToArray());
        Assert.Equal("1", loaded["0:a"].Value);
        Assert.Equal(new KeyState("x", expireAt), loaded["0:b"]);
        Assert.Equal("7", loaded["0:n"].Value);
        Assert.Equal("vw", loaded["3:c3"].Value);

        // Moved, byte for byte, into the directory as its base; a fresh incr file after it.
        Assert.False(File.Exists(legacyPath), "the old file is still in dir");
        Assert.Equal(legacy, File.ReadAllBytes(AofFiles.PathOf(dir, "appendonly.aof")));
        var manifest = AofFiles.ManifestText(dir);
        Assert.StartsWith("file appendonly.aof seq 1 type b\n", manifest);
        Assert.Contains($"file {AofFiles.Incr1} seq 1 type i\n", manifest);

        await RunAsync(ours, [["SET", "written-after-upgrade", "yes"], ["SELECT", "3"], ["INCR", "n3"]]);
        var expected = await Dataset.ReadAsync(ours);
        var digest = await ours.DigestAsync();
        await StopAsync(ours);

        var check = await CheckAofAsync(dir);
        Assert.True(check.ExitCode == 0 && check.Stdout.Contains("All AOF files and manifest are valid"), check.ToString());

        var copy = NewDir();
        AofFiles.CopyDirectory(dir, copy);
        var redis = await StartRedisAsync(copy);
        Dataset.AssertSame(expected, await Dataset.ReadAsync(redis), "real Redis loading our upgraded directory");
        Assert.Equal(digest, await redis.DigestAsync());
    }

    [Fact]
    public async Task InfoPersistenceNamesTheFieldsRealRedisNamesInItsOrder()
    {
        if (!Tools.Require(Output, "redis-server")) return;
        static async Task<List<string>> FieldsAsync(Running server)
        {
            await using var client = await server.ConnectAsync();
            var info = (await client.BulkAsync("INFO", "persistence"))!;
            return [.. info.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Select(line => line.Split(':')[0])];
        }

        foreach (var appendonly in new[] { "yes", "no" })
        {
            var ours = await StartOursAsync(NewDir(), "--appendonly", appendonly);
            var redis = await StartRedisAsync(NewDir(), "--appendonly", appendonly);
            Assert.Equal(await FieldsAsync(redis), await FieldsAsync(ours));
            await StopAsync(ours);
            await StopAsync(redis);
        }
    }

    [Fact]
    public async Task RedisCheckAofFindsOurFilesValid()
    {
        if (!Tools.Require(Output, "redis-check-aof")) return;
        var dir = NewDir();
        var ours = await StartOursAsync(dir, "--appendfsync", "always");
        var (first, second) = Workload();
        await RunAsync(ours, [.. first, .. second]);
        await FinishWorkloadAsync(ours);
        await StopAsync(ours);
        // A second run appends to the same incr file after a restart.
        ours = await StartOursAsync(dir);
        await RunAsync(ours, [["SET", "second-run", "1"], ["MULTI"], ["INCR", "ctr"], ["DEL", "app"], ["EXEC"]]);
        await StopAsync(ours);

        Output.WriteLine($"manifest:\n{AofFiles.ManifestText(dir)}");
        var check = await CheckAofAsync(dir);
        Assert.Equal(0, check.ExitCode);
        Assert.Contains("All AOF files and manifest are valid", check.Stdout);
        // Every file was read to its end: nothing past the last whole command.
        var analyzed = check.Stdout.Split('\n').Where(l => l.Contains("AOF analyzed")).ToList();
        Assert.NotEmpty(analyzed);
        Assert.All(analyzed, l => Assert.EndsWith("diff=0", l.TrimEnd()));
    }

    [Fact]
    public async Task RedisBenchmarkWithFsyncAlwaysThenRestartLoadsTheSameData()
    {
        if (!Tools.Require(Output, "redis-benchmark")) return;
        var dir = NewDir();
        var ours = await StartOursAsync(dir, "--appendfsync", "always");
        var result = await Tools.RunAsync("redis-benchmark",
            ["-p", ours.Port.ToString(), "-t", "set,incr", "-n", "2000", "-c", "10", "-q"], timeout: TimeSpan.FromSeconds(120));
        Output.WriteLine(result.ToString());
        Assert.Equal(0, result.ExitCode);
        // -q rewrites a progress line with \r; the last state of each line holds the result.
        var lines = result.Stdout.Split('\n').Select(l => l.Split('\r').Last().Trim()).Where(l => l.Length > 0).ToList();
        foreach (var test in new[] { "SET", "INCR" })
            Assert.Contains(lines, l => l.StartsWith(test + ": ", StringComparison.Ordinal) && l.Contains("requests per second"));
        Assert.DoesNotContain("ERR", result.Stdout + result.Stderr);
        Assert.DoesNotContain("Error", result.Stdout + result.Stderr, StringComparison.OrdinalIgnoreCase);

        // Without -r the benchmark writes one key per test: every SET to key:__rand_int__, every INCR to counter:__rand_int__.
        var before = await Dataset.ReadAsync(ours);
        Assert.Equal(["0:counter:__rand_int__", "0:key:__rand_int__"], before.Keys.ToArray());
        Assert.Equal("2000", before["0:counter:__rand_int__"].Value);
        Assert.Equal(3, before["0:key:__rand_int__"].Value!.Length); // -d 3: three bytes of its payload
        await using (var client = await ours.ConnectAsync())
            Assert.Equal(2, await client.IntAsync("DBSIZE"));
        var digest = await ours.DigestAsync();

        // Killed, not stopped: under `always` every acknowledged write is already in the file.
        ours.Process.Signal(ServerProcess.SIGKILL);
        Assert.NotNull(await ours.Process.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        var restarted = await StartOursAsync(dir);
        Dataset.AssertSame(before, await Dataset.ReadAsync(restarted), "after restart");
        Assert.Equal(digest, await restarted.DigestAsync());
        await using (var client = await restarted.ConnectAsync())
            Assert.Equal(2, await client.IntAsync("DBSIZE"));
    }
}
