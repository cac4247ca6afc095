// Build tasks without extra tools: `dotnet fsi build.fsx <target> [options]`.
//
//   build    dotnet build -c Release
//   test     dotnet test
//   format   dotnet format (when the SDK has it; never fails the build)
//   pack     dotnet publish src/Aof.Server -c Release -r <this machine's RID> -p:PublishReadyToRun=true
//            -o artifacts/aof-server (the benchmarks run this build)
//   bench    our server vs real redis-server under redis-benchmark; prints a text and a markdown table
//            options: --suite core,aof,collections,load,load-collections,rewrite (default all),
//                     --runs N (env BENCH_RUNS, default 3),
//                     --requests N (env BENCH_REQUESTS, default 200000),
//                     --clients N (env BENCH_CLIENTS, default 50)
//
// Plain System.Diagnostics.Process so it runs on a bare SDK, offline.

open System
open System.Diagnostics
open System.IO
open System.Net.Sockets
open System.Text

let root = __SOURCE_DIRECTORY__

let startInfo (exe: string) (args: string list) =
    let info = ProcessStartInfo(exe, WorkingDirectory = root, UseShellExecute = false)
    for a in args do info.ArgumentList.Add a
    info

/// Runs a program with our console, returning its exit code.
let run exe args =
    printfn "> %s %s" exe (String.Join(" ", (args: string list)))
    use p = Process.Start(startInfo exe args)
    p.WaitForExit()
    p.ExitCode

/// Runs a program and returns its exit code and stdout (stderr still goes to our console).
let capture exe args =
    let info = startInfo exe args
    info.RedirectStandardOutput <- true
    use p = Process.Start info
    let out = p.StandardOutput.ReadToEnd()
    p.WaitForExit()
    p.ExitCode, out

let check code what = if code <> 0 then failwithf "%s failed with exit code %d" what code

let onPath (name: string) =
    (Environment.GetEnvironmentVariable "PATH" |> Option.ofObj |> Option.defaultValue "").Split(Path.PathSeparator)
    |> Array.exists (fun dir -> dir <> "" && File.Exists(Path.Combine(dir, name)))

// ---------------------------------------------------------------- targets

let build () = check (run "dotnet" [ "build"; "-c"; "Release" ]) "build"

let test () = check (run "dotnet" [ "test" ]) "test"

let format () =
    if fst (capture "dotnet" [ "format"; "--version" ]) = 0 then
        let code = run "dotnet" [ "format" ]
        if code <> 0 then printfn "dotnet format exited with %d (not treated as a failure)" code
    else
        printfn "dotnet format is not available with this SDK; skipping"

let packDir = Path.Combine(root, "artifacts", "aof-server")

/// The server as it is deployed: Release, compiled ahead of time (ReadyToRun) for this machine's runtime
/// identifier, so a start does not wait for the JIT (start to first PING 0.13 s -> 0.08 s; loading a 1M-key
/// AOF ~0.25 s sooner, docs/benchmarks.md). Hot code is still re-compiled by the tiered JIT as it runs.
let pack () =
    let rid = Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier
    check
        (run "dotnet" [ "publish"; "src/Aof.Server"; "-c"; "Release"; "-r"; rid; "--self-contained"; "false"
                        "-p:PublishReadyToRun=true"; "-o"; packDir ])
        "publish"
    printfn "published to %s" packDir

// ---------------------------------------------------------------- bench

type Options = { Runs: int; Requests: int; Clients: int; Suites: string list }

let options (args: string list) =
    let fromEnv name fallback =
        match Environment.GetEnvironmentVariable name with
        | null | "" -> fallback
        | v -> int v
    let rec go (o: Options) =
        function
        | "--runs" :: n :: rest -> go { o with Runs = int n } rest
        | "--requests" :: n :: rest
        | "-n" :: n :: rest -> go { o with Requests = int n } rest
        | "--clients" :: n :: rest -> go { o with Clients = int n } rest
        | "--suite" :: names :: rest -> go { o with Suites = names.Split(',') |> List.ofArray } rest
        | [] -> o
        | other :: _ -> failwithf "unknown bench option %s" other
    go
        { Runs = fromEnv "BENCH_RUNS" 3
          Requests = fromEnv "BENCH_REQUESTS" 200000
          Clients = fromEnv "BENCH_CLIENTS" 50
          Suites = [ "core"; "aof"; "collections"; "load"; "load-collections"; "rewrite" ] }
        args

/// One RESP connection for the harness's own commands. The rewrite suite polls INFO every few
/// milliseconds while it measures latency: a redis-cli process per poll (hundreds of processes a second on
/// a 2-core machine) cost the servers more p99 than the rewrites did (docs/benchmarks.md).
type Conn(port: int) =
    let client = new TcpClient("127.0.0.1", port)
    let stream = client.GetStream()
    // A server that stops answering fails the run instead of hanging it.
    do stream.ReadTimeout <- 10000
    let reader = new BinaryReader(stream)

    let line () =
        let sb = StringBuilder()
        let mutable c = reader.ReadChar()
        while c <> '\r' do
            sb.Append c |> ignore
            c <- reader.ReadChar()
        reader.ReadChar() |> ignore
        sb.ToString()

    /// Sends a command; the reply's text (a bulk string's payload, or the status or error line).
    member _.Call(args: string list) : string =
        let sb = StringBuilder().Append('*').Append(List.length args).Append("\r\n")
        for a in args do
            sb.Append('$').Append(Encoding.UTF8.GetByteCount a).Append("\r\n").Append(a).Append("\r\n") |> ignore
        stream.Write(Encoding.UTF8.GetBytes(sb.ToString()))
        let head = line ()
        if head.StartsWith "$" && head <> "$-1" then
            let text = Encoding.UTF8.GetString(reader.ReadBytes(int (head.Substring 1)))
            reader.ReadBytes 2 |> ignore
            text
        else
            head

    interface IDisposable with
        member _.Dispose() = client.Dispose()

let infoFieldOn (c: Conn) (name: string) =
    (c.Call [ "info"; "persistence" ]).Split('\n')
    |> Array.tryPick (fun l -> if l.StartsWith(name + ":") then Some(l.Substring(name.Length + 1).Trim()) else None)
    |> Option.defaultValue ""

let infoField (port: int) (name: string) =
    use c = new Conn(port)
    infoFieldOn c name

/// Starts a rewrite and waits for it to end (at most 5 minutes), polling over one connection; its wall
/// time in seconds.
let rewriteOnce (port: int) =
    use c = new Conn(port)
    let sw = Stopwatch.StartNew()
    c.Call [ "bgrewriteaof" ] |> ignore
    Threading.Thread.Sleep 5
    while infoFieldOn c "aof_rewrite_in_progress" = "1" || infoFieldOn c "aof_rewrite_scheduled" = "1" do
        if sw.Elapsed.TotalMinutes > 5.0 then failwithf "the rewrite on port %d still runs after 5 minutes" port
        Threading.Thread.Sleep 5
    sw.Elapsed.TotalSeconds

/// True once the server on `port` answers PING (a NOAUTH error counts as an answer too; -LOADING does not).
let answers (port: int) =
    try
        use c = new Conn(port)
        not ((c.Call [ "PING" ]).StartsWith "-LOADING")
    with _ -> false

let waitServing (name: string) (p: Process) port =
    let deadline = DateTime.UtcNow.AddSeconds 120.0
    while not (answers port) do
        if p.HasExited then failwithf "%s exited with %d before serving on %d" name p.ExitCode port
        if DateTime.UtcNow > deadline then failwithf "%s not serving on %d after 120 s" name port
        Threading.Thread.Sleep 20

let startServer exe args =
    let info = startInfo exe args
    // Their logs would drown the tables; keep them out of the console.
    info.RedirectStandardOutput <- true
    info.RedirectStandardError <- true
    let p = Process.Start info
    p.OutputDataReceived.Add ignore
    p.ErrorDataReceived.Add ignore
    p.BeginOutputReadLine()
    p.BeginErrorReadLine()
    p

let stopServer (p: Process) =
    if not p.HasExited then
        p.Kill true
        p.WaitForExit 10000 |> ignore

/// redis-benchmark --csv rows: "test","rps",... → (test, rps).
let parseCsv (csv: string) =
    csv.Split('\n', StringSplitOptions.RemoveEmptyEntries)
    |> Array.map (fun line -> line.Trim().Split(',') |> Array.map (fun f -> f.Trim('"')))
    |> Array.filter (fun f -> f.Length >= 2 && f[0] <> "test")
    |> Array.map (fun f -> f[0], Double.Parse(f[1], Globalization.CultureInfo.InvariantCulture))

let median (xs: float list) =
    let s = List.sort xs
    let n = s.Length
    if n % 2 = 1 then s[n / 2] else (s[n / 2 - 1] + s[n / 2]) / 2.0

// The benchmarks run what `pack` publishes: what a deployment would run.
let dll = Path.Combine(packDir, "Aof.Server.dll")
let oursPort, redisPort = 6390, 6391

/// Runs redis-benchmark against fresh instances of both servers, alternating runs, and prints the medians
/// and ratios as text and as a markdown table.
let compare (o: Options) (title: string) (tests: string) (oursArgs: string list) (redisArgs: string list) =
    let work = Path.Combine(Path.GetTempPath(), sprintf "aof-bench-%d-%s" Environment.ProcessId (title.Replace(' ', '-')))
    let oursDir, redisDir = Path.Combine(work, "ours"), Path.Combine(work, "redis")
    Directory.CreateDirectory oursDir |> ignore
    Directory.CreateDirectory redisDir |> ignore
    let servers = Collections.Generic.List<Process>()
    try
        let ours = startServer "dotnet" ([ dll; "--port"; string oursPort; "--dir"; oursDir ] @ oursArgs)
        servers.Add ours
        let redis = startServer "redis-server" ([ "--port"; string redisPort; "--save"; ""; "--dir"; redisDir ] @ redisArgs)
        servers.Add redis
        waitServing "our server" ours oursPort
        waitServing "redis-server" redis redisPort

        let results = Collections.Generic.Dictionary<(string * int * string), float list>()
        let record key rps =
            results[key] <- rps :: (match results.TryGetValue key with | true, l -> l | _ -> [])
        let order = Collections.Generic.List<string>()
        for pipeline in [ 1; 16 ] do
            for r in 1 .. o.Runs do
                // One after the other, alternating, so neither always gets the warmer machine.
                for name, port in [ "ours", oursPort; "redis", redisPort ] do
                    printfn "%s: run %d/%d  -P %d  %s" title r o.Runs pipeline name
                    let code, csv =
                        capture "redis-benchmark"
                            [ "-p"; string port; "-t"; tests; "-n"; string o.Requests
                              "-c"; string o.Clients; "-P"; string pipeline; "--csv" ]
                    check code "redis-benchmark"
                    for test, rps in parseCsv csv do
                        if not (order.Contains test) then order.Add test
                        record (test, pipeline, name) rps

        let rows =
            [ for pipeline in [ 1; 16 ] do
                  for test in order do
                      let get name = results.TryGetValue((test, pipeline, name)) |> function | true, l -> median l | _ -> nan
                      let ours, redis = get "ours", get "redis"
                      test, pipeline, ours, redis, ours / redis ]
        printfn ""
        printfn "## %s" title
        printfn ""
        printfn "`redis-benchmark -t %s -n %d -c %d -P 1|16`, median of %d runs (requests per second)" tests o.Requests o.Clients o.Runs
        printfn "ours: `%s`; Redis: `redis-server %s`" (String.Join(" ", oursArgs)) (String.Join(" ", redisArgs))
        printfn ""
        printfn "| test | pipeline | ours rps | redis rps | ratio |"
        printfn "| --- | ---: | ---: | ---: | ---: |"
        for test, p, ours, redis, ratio in rows do
            printfn "| %s | %d | %.0f | %.0f | %.2f |" test p ours redis ratio
        printfn ""
    finally
        for p in servers do stopServer p
        try Directory.Delete(work, true) with _ -> ()

/// Loading an AOF written by real Redis (redis-benchmark run with each of `fills`, then BGREWRITEAOF with
/// the preamble off), timed in both servers from process start to a PING that is not answered -LOADING.
let loadTime (o: Options) (suite: string) (title: string) (fills: string list list) =
    let work = Path.Combine(Path.GetTempPath(), sprintf "aof-bench-%d-%s" Environment.ProcessId suite)
    let source = Path.Combine(work, "source")
    Directory.CreateDirectory source |> ignore
    try
        let writer = startServer "redis-server" [ "--port"; string redisPort; "--save"; ""; "--dir"; source; "--appendonly"; "yes"; "--aof-use-rdb-preamble"; "no" ]
        try
            waitServing "redis-server" writer redisPort
            for fill in fills do
                printfn "%s: filling real Redis: redis-benchmark %s" suite (String.Join(" ", fill))
                check (fst (capture "redis-benchmark" ([ "-p"; string redisPort; "-q" ] @ fill))) "redis-benchmark"
            rewriteOnce redisPort |> ignore
            let keys = (snd (capture "redis-cli" [ "-p"; string redisPort; "dbsize" ])).Trim()
            printfn "%s: %s keys; base written" suite keys
        finally
            capture "redis-cli" [ "-p"; string redisPort; "shutdown"; "nosave" ] |> ignore
            writer.WaitForExit 30000 |> ignore
        let timeOne (name: string) exe (args: string list) port =
            let dir = Path.Combine(work, name)
            if Directory.Exists dir then Directory.Delete(dir, true)
            Directory.CreateDirectory dir |> ignore
            let src = Path.Combine(source, "appendonlydir")
            let dst = Path.Combine(dir, "appendonlydir")
            Directory.CreateDirectory dst |> ignore
            for f in Directory.GetFiles src do File.Copy(f, Path.Combine(dst, Path.GetFileName f))
            let sw = Stopwatch.StartNew()
            let p = startServer exe (args @ [ "--dir"; dir ])
            try
                waitServing name p port
                sw.Elapsed.TotalSeconds
            finally
                stopServer p
        let ours = [ for _ in 1 .. o.Runs -> timeOne "ours" "dotnet" [ dll; "--port"; string oursPort; "--appendonly"; "yes" ] oursPort ]
        let redis = [ for _ in 1 .. o.Runs -> timeOne "redis" "redis-server" [ "--port"; string redisPort; "--save"; ""; "--appendonly"; "yes"; "--aof-use-rdb-preamble"; "no" ] redisPort ]
        printfn ""
        printfn "## %s" title
        printfn ""
        printfn "Real Redis filled with %s, then BGREWRITEAOF with the preamble off." (String.Join("; ", fills |> List.map (fun f -> "`redis-benchmark " + String.Join(" ", f) + "`")))
        printfn "Seconds from process start until PING is answered without -LOADING, median of %d runs." o.Runs
        printfn ""
        printfn "| ours s | redis s | ratio (ours/redis, lower is better) |"
        printfn "| ---: | ---: | ---: |"
        printfn "| %.2f | %.2f | %.2f |" (median ours) (median redis) (median ours / median redis)
        printfn ""
    finally
        try Directory.Delete(work, true) with _ -> ()

/// The p99 latency column of a redis-benchmark --csv result.
let p99 (csv: string) =
    csv.Split('\n', StringSplitOptions.RemoveEmptyEntries)
    |> Array.map (fun line -> line.Trim().Split(',') |> Array.map (fun f -> f.Trim('"')))
    |> Array.tryFind (fun f -> f.Length >= 7 && f[0] <> "test")
    |> Option.map (fun f -> Double.Parse(f[6], Globalization.CultureInfo.InvariantCulture))
    |> Option.defaultValue nan

/// Issue 4's figures: with ~1M keys in each server, BGREWRITEAOF wall time and base size, and SET's p99
/// latency with rewrites running back to back against its p99 with none.
let rewriteSuite (o: Options) =
    let run (name: string) exe (args: string list) port =
        let dir = Path.Combine(Path.GetTempPath(), sprintf "aof-bench-%d-rw-%s" Environment.ProcessId name)
        if Directory.Exists dir then Directory.Delete(dir, true)
        Directory.CreateDirectory dir |> ignore
        let p = startServer exe (args @ [ "--dir"; dir; "--appendonly"; "yes"; "--appendfsync"; "everysec" ])
        try
            waitServing name p port
            printfn "rewrite: %s: filling ~1M keys" name
            check (fst (capture "redis-benchmark" [ "-p"; string port; "-t"; "set"; "-r"; "1000000"; "-n"; "2000000"; "-P"; "16"; "-q" ])) "fill"
            let times = [ for _ in 1 .. o.Runs -> rewriteOnce port ]
            let baseSize = int64 (infoField port "aof_base_size")
            let latency () =
                p99 (snd (capture "redis-benchmark" [ "-p"; string port; "-t"; "set"; "-r"; "1000000"; "-n"; string o.Requests; "-c"; string o.Clients; "--csv" ]))
            let quiet = [ for _ in 1 .. o.Runs -> latency () ]
            // Rewrites back to back for as long as the measurement runs.
            let stop = ref false
            let rewriter = Threading.Thread(fun () -> while not stop.Value do rewriteOnce port |> ignore)
            rewriter.Start()
            let busy =
                try [ for _ in 1 .. o.Runs -> latency () ]
                finally
                    stop.Value <- true
                    rewriter.Join()
            median times, baseSize, median quiet, median busy
        finally
            stopServer p
            try Directory.Delete(dir, true) with _ -> ()
    let oursT, oursB, oursQ, oursBusy = run "ours" "dotnet" [ dll; "--port"; string oursPort ] oursPort
    let redisT, redisB, redisQ, redisBusy = run "redis" "redis-server" [ "--port"; string redisPort; "--save"; ""; "--aof-use-rdb-preamble"; "no" ] redisPort
    printfn ""
    printfn "## BGREWRITEAOF with ~1M keys"
    printfn ""
    printfn "Filled with `redis-benchmark -t set -r 1000000 -n 2000000 -P 16`; AOF on, everysec, Redis's preamble off."
    printfn "Wall time: BGREWRITEAOF until INFO says no rewrite is in progress, median of %d. Latency:" o.Runs
    printfn "`redis-benchmark -t set -r 1000000 -n %d -c %d`, p99 in ms, median of %d runs, with no rewrite and" o.Requests o.Clients o.Runs
    printfn "with rewrites running back to back throughout."
    printfn ""
    printfn "| | ours | redis | ratio (ours/redis) |"
    printfn "| --- | ---: | ---: | ---: |"
    printfn "| rewrite wall time (s) | %.2f | %.2f | %.2f |" oursT redisT (oursT / redisT)
    printfn "| base size (bytes) | %d | %d | %.2f |" oursB redisB (float oursB / float redisB)
    printfn "| SET p99, no rewrite (ms) | %.3f | %.3f | |" oursQ redisQ
    printfn "| SET p99, during rewrites (ms) | %.3f | %.3f | |" oursBusy redisBusy
    printfn "| p99 during / p99 without | %.2f | %.2f | |" (oursBusy / oursQ) (redisBusy / redisQ)
    printfn ""

let bench (args: string list) =
    let o = options args
    for tool in [ "redis-server"; "redis-benchmark"; "redis-cli" ] do
        if not (onPath tool) then failwithf "%s is not installed (apt-get install redis-server redis-tools)" tool
    pack ()
    for port in [ oursPort; redisPort ] do
        if answers port then failwithf "port %d is already in use; stop whatever listens there" port
    if List.contains "core" o.Suites then
        compare o "Persistence off" "set,get,incr,mset" [ "--appendonly"; "no" ] [ "--appendonly"; "no" ]
    if List.contains "aof" o.Suites then
        for policy in (match Environment.GetEnvironmentVariable "BENCH_POLICIES" with null | "" -> [ "everysec"; "always" ] | p -> List.ofArray (p.Split(','))) do
            compare o (sprintf "AOF appendfsync %s" policy) "set,incr,lpush"
                [ "--appendonly"; "yes"; "--appendfsync"; policy ]
                [ "--appendonly"; "yes"; "--appendfsync"; policy; "--aof-use-rdb-preamble"; "no" ]
    if List.contains "collections" o.Suites then
        // The collections issue's comparison: both servers with the AOF on, everysec.
        compare o "Collections, AOF everysec" "lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,lrange_600"
            [ "--appendonly"; "yes"; "--appendfsync"; "everysec" ]
            [ "--appendonly"; "yes"; "--appendfsync"; "everysec"; "--aof-use-rdb-preamble"; "no" ]
    if List.contains "load" o.Suites then
        loadTime o "load" "Loading a 1M-key AOF written by Redis" [ [ "-t"; "set"; "-r"; "1000000"; "-n"; "2000000"; "-P"; "16" ] ]
    if List.contains "load-collections" o.Suites then
        // A base of small lists and hashes: each key an RPUSH or HSET of up to 64 elements.
        loadTime o "load-collections" "Loading an AOF of ~400k lists and hashes written by Redis"
            [ [ "-r"; "200000"; "-n"; "2000000"; "-P"; "16"; "rpush"; "list:__rand_int__"; "__rand_int__" ]
              [ "-r"; "200000"; "-n"; "1000000"; "-P"; "16"; "hset"; "hash:__rand_int__"; "f__rand_int__"; "__rand_int__" ] ]
    if List.contains "rewrite" o.Suites then rewriteSuite o

// ---------------------------------------------------------------- main

let usage () =
    eprintfn "usage: dotnet fsi build.fsx <build|test|format|pack|bench> [bench options]"
    2

let main (args: string list) =
    try
        match args with
        | [ "build" ] -> build (); 0
        | [ "test" ] -> test (); 0
        | [ "format" ] -> format (); 0
        | [ "pack" ] -> pack (); 0
        | "bench" :: rest -> bench rest; 0
        | _ -> usage ()
    with Failure message ->
        eprintfn "build.fsx: %s" message
        1

exit (main (fsi.CommandLineArgs |> Array.toList |> List.tail))
