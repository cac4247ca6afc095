// The engine's cost per command, in process (no sockets): batches of 16 identical commands, as
// redis-benchmark -P 16 sends them, through Server.Execute into a reused buffer. Prints nanoseconds and
// bytes allocated per command for a few rounds; compare medians, the machine is noisy.
//
// Usage (after `dotnet build -c Release src/Aof.Server`):
//   dotnet fsi --optimize+ scripts/engine-cost.fsx <set|incr|get|mset|rpush|lpush|hset> [aof: yes|no] [rounds]
#r "../src/Aof.Server/bin/Release/net10.0/Argu.dll"
#r "../src/Aof.Server/bin/Release/net10.0/Aof.Core.dll"
#r "../src/Aof.Server/bin/Release/net10.0/Aof.Engine.dll"

open System
open System.Buffers
open System.Collections.Generic

let args = fsi.CommandLineArgs |> Array.skip 1
let kind = if args.Length > 0 then args[0] else "set"
let aof = if args.Length > 1 then args[1] else "no"
let rounds = if args.Length > 2 then int args[2] else 3
let dir = IO.Path.Combine(IO.Path.GetTempPath(), sprintf "aof-engine-cost-%d" Environment.ProcessId)
IO.Directory.CreateDirectory dir |> ignore

let server =
    match Aof.Engine.Server.Start [| "--appendonly"; aof; "--dir"; dir; "--port"; "0"; "--loglevel"; "warning" |] with
    | Ok s -> s
    | Error e -> failwithf "%A" e

server.LoadNow() |> ignore
let session = (server.Connect("127.0.0.1:1", "127.0.0.1:2")).Value
let b (s: string) = Text.Encoding.ASCII.GetBytes s

// The arguments are made afresh for every command, as the RESP reader would: their allocation is counted.
let command () =
    match kind with
    | "set" -> [| b "SET"; b "key:__rand_int__"; b "xxx" |]
    | "incr" -> [| b "INCR"; b "counter:__rand_int__" |]
    | "get" -> [| b "GET"; b "key:__rand_int__" |]
    | "mset" -> Array.append [| b "MSET" |] (Array.init 20 (fun i -> if i % 2 = 0 then b "key:__rand_int__" else b "xxx"))
    | "rpush" -> [| b "RPUSH"; b "mylist"; b "xxx" |]
    | "lpush" -> [| b "LPUSH"; b "mylist"; b "xxx" |]
    | "hset" -> [| b "HSET"; b "myhash"; b "element:__rand_int__"; b "xxx" |]
    | other -> failwithf "unknown command kind %s" other

let output = ArrayBufferWriter<byte>(64 * 1024)
let batch = List<byte[][]>()

let run (batches: int) =
    for _ in 1..batches do
        batch.Clear()

        for _ in 1..16 do
            batch.Add(command ())

        let t = server.Execute(session, batch, output)
        if not t.IsCompleted then t.AsTask().Wait()
        output.ResetWrittenCount()

// Warm up: tier-1 code, steady GC budgets.
run 200000

for _ in 1..rounds do
    GC.Collect()
    let before = GC.GetAllocatedBytesForCurrentThread()
    let clock = Diagnostics.Stopwatch.StartNew()
    let batches = 200000
    run batches
    let elapsed = clock.Elapsed.TotalMilliseconds
    let allocated = GC.GetAllocatedBytesForCurrentThread() - before
    let n = float (batches * 16)
    printfn "%s aof=%s: %.0f ns/command, %.0f B/command" kind aof (elapsed * 1e6 / n) (float allocated / n)

server.Stop()
IO.Directory.Delete(dir, true)
