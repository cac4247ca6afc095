module Aof.Engine.Tests.LogTests

open System
open System.IO
open System.Text.RegularExpressions
open Xunit
open Aof.Engine

// The shape redis-server 7.0 prints: `1234:M 21 Nov 2026 19:39:46.086 * message`.
let private lineShape =
    Regex(@"^(\d+):M (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2})\.(\d{3}) ([.\-*#]) (.*)$")

let private tempPath () =
    Path.Combine(Path.GetTempPath(), sprintf "aof-log-%s.log" (Guid.NewGuid().ToString "N"))

/// Reads while the log still has the file open, as `tail -f` would.
let private readShared (path: string) =
    use stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite ||| FileShare.Delete)
    use reader = new StreamReader(stream)
    reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)

[<Fact>]
let ``a line has Redis's shape`` () =
    let line = Log.FormatLine(4242, DateTime(2026, 11, 1, 9, 5, 7, 86), LogLevel.Notice, "Ready to accept connections")
    Assert.Equal("4242:M 01 Nov 2026 09:05:07.086 * Ready to accept connections", line)
    Assert.Matches(lineShape, line)

[<Fact>]
let ``each level has Redis's mark`` () =
    Assert.Equal('.', Log.LevelChar LogLevel.Debug)
    Assert.Equal('-', Log.LevelChar LogLevel.Verbose)
    Assert.Equal('*', Log.LevelChar LogLevel.Notice)
    Assert.Equal('#', Log.LevelChar LogLevel.Warning)

[<Fact>]
let ``a file log appends, flushes every line and filters by level`` () =
    let path = tempPath ()
    File.WriteAllText(path, "earlier line\n")

    try
        match Log.Open(path, LogLevel.Verbose) with
        | Error e -> failwith e
        | Ok log ->
            use _ = log
            log.Debug "hidden"
            log.Verbose "v"
            log.Notice "n"
            log.Warning "w"
            // Read before disposing: every line must already be on disk.
            let lines = readShared path
            Assert.Equal("earlier line", lines[0])
            Assert.Equal(4, lines.Length)

            let parsed = lines[1..] |> Array.map (fun l -> lineShape.Match l)
            Assert.All(parsed, fun m -> Assert.True m.Success)
            Assert.Equal<string[]>([| "-"; "*"; "#" |], parsed |> Array.map (fun m -> m.Groups[9].Value))
            Assert.Equal<string[]>([| "v"; "n"; "w" |], parsed |> Array.map (fun m -> m.Groups[10].Value))
            Assert.All(parsed, fun m -> Assert.Equal(string Environment.ProcessId, m.Groups[1].Value))

            log.Level <- LogLevel.Debug
            log.Debug "now shown"
            Assert.EndsWith(". now shown", Array.last (readShared path))
    finally
        File.Delete path

[<Fact>]
let ``lines from many threads never interleave`` () =
    let path = tempPath ()

    try
        match Log.Open(path, LogLevel.Notice) with
        | Error e -> failwith e
        | Ok log ->
            use _ = log

            Threading.Tasks.Parallel.For(0, 400, fun i -> log.Notice(sprintf "message %d %s" i (String('x', 200))))
            |> ignore

            let lines = readShared path
            Assert.Equal(400, lines.Length)
            Assert.All(lines, fun l -> Assert.Matches(lineShape, l))
    finally
        File.Delete path

[<Fact>]
let ``a log file that cannot be opened is an error in Redis's words`` () =
    match Log.Open("/nonexistent-dir/x/aof.log", LogLevel.Notice) with
    | Ok _ -> failwith "expected an error"
    | Error e -> Assert.Equal("Can't open the log file: No such file or directory", e)

[<Fact>]
let ``an empty logfile logs to standard output`` () =
    match Log.Create Config.defaults with
    | Error e -> failwith e
    | Ok log -> Assert.Equal("", log.Path)

    Assert.Equal(LogLevel.Notice, Log.Console.Level)
