module Aof.Core.Tests.DecideTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Aof.Core
open Aof.Core.Tests.Model

let databases = 3

/// A step of a generated session: advance the clock, then send a command (SELECT included).
type Step = { Advance: int64; Args: string list }

let private genKey = Gen.elements [ "a"; "b"; "c"; "d" ]
let private genVal = Gen.elements [ "x"; "yy"; "10"; "-3"; ""; "hello" ]
let private genSmall = Gen.choose (-5, 20) |> Gen.map string
let private genTtl = Gen.choose (1, 4000) |> Gen.map string
let private genDb = Gen.choose (0, databases - 1) |> Gen.map string

let private genArgs: Gen<string list> =
    let k = genKey
    let v = genVal

    Gen.oneof
        [ Gen.map (fun k -> [ "GET"; k ]) k
          Gen.map2 (fun k v -> [ "SET"; k; v ]) k v
          gen {
              let! k = k
              let! v = v
              let! cond = Gen.elements [ []; [ "NX" ]; [ "XX" ] ]
              let! ttl = Gen.oneof [ Gen.constant []; Gen.map (fun t -> [ "PX"; t ]) genTtl; Gen.constant [ "KEEPTTL" ] ]
              let! get = Gen.elements [ []; [ "GET" ] ]
              return [ "SET"; k; v ] @ cond @ ttl @ get
          }
          Gen.map2 (fun k v -> [ "SETNX"; k; v ]) k v
          Gen.map3 (fun k t v -> [ "PSETEX"; k; t; v ]) k genTtl v
          Gen.map2 (fun a b -> [ "MGET"; a; b ]) k k
          Gen.map3 (fun a b v -> [ "MSET"; a; v; b; v ]) k k v
          Gen.map3 (fun a b v -> [ "MSETNX"; a; v; b; v ]) k k v
          Gen.map2 (fun k v -> [ "GETSET"; k; v ]) k v
          Gen.map (fun k -> [ "GETDEL"; k ]) k
          Gen.map2 (fun k t -> [ "GETEX"; k; "PX"; t ]) k genTtl
          Gen.map (fun k -> [ "GETEX"; k; "PERSIST" ]) k
          Gen.map2 (fun k v -> [ "APPEND"; k; v ]) k v
          Gen.map (fun k -> [ "STRLEN"; k ]) k
          Gen.map2 (fun k n -> [ "INCRBY"; k; n ]) k genSmall
          Gen.map (fun k -> [ "DECR"; k ]) k
          Gen.map3 (fun k a b -> [ "GETRANGE"; k; a; b ]) k genSmall genSmall
          Gen.map3 (fun k o v -> [ "SETRANGE"; k; o; v ]) k (Gen.choose (0, 8) |> Gen.map string) v
          Gen.map2 (fun a b -> [ "DEL"; a; b ]) k k
          Gen.map2 (fun a b -> [ "EXISTS"; a; b; a ]) k k
          Gen.map (fun k -> [ "TYPE"; k ]) k
          Gen.map2 (fun a b -> [ "RENAME"; a; b ]) k k
          Gen.map2 (fun a b -> [ "RENAMENX"; a; b ]) k k
          Gen.map2 (fun k d -> [ "MOVE"; k; d ]) k genDb
          Gen.map3 (fun a b d -> [ "COPY"; a; b; "DB"; d ]) k k genDb
          Gen.map2 (fun a b -> [ "COPY"; a; b; "REPLACE" ]) k k
          gen {
              let! k = k
              let! t = genTtl
              let! flag = Gen.elements [ []; [ "NX" ]; [ "XX" ]; [ "GT" ]; [ "LT" ] ]
              return [ "PEXPIRE"; k; t ] @ flag
          }
          Gen.map2 (fun k t -> [ "PEXPIREAT"; k; t ]) k (Gen.choose (0, 2_000_000) |> Gen.map string)
          Gen.map (fun k -> [ "PTTL"; k ]) k
          Gen.map (fun k -> [ "PERSIST"; k ]) k
          Gen.constant [ "DBSIZE" ]
          Gen.map (fun d -> [ "SELECT"; d ]) genDb
          Gen.constant [ "FLUSHDB" ]
          Gen.map2 (fun a b -> [ "SWAPDB"; a; b ]) genDb genDb ]

let private genStep =
    Gen.map2 (fun adv args -> { Advance = int64 adv; Args = args }) (Gen.frequency [ 3, Gen.constant 0; 2, Gen.choose (1, 1500) ]) genArgs

let genSession = Gen.listOf genStep

let private toArgs (l: string list) = l |> List.map Bytes.ofString |> List.toArray
let start = 1_000_000L

type Run =
    { Replies: Reply list
      Final: Keyspace
      Events: Event list
      Now: int64 }

/// The real thing: parse, decide, apply the decision's events.
let runReal (steps: Step list) : Run =
    let mutable ks = Keyspace.create databases
    let mutable db = 0
    let mutable now = start
    let events = ResizeArray()
    let replies = ResizeArray()

    for st in steps do
        now <- now + st.Advance

        match Command.parse (toArgs st.Args) with
        | Ok(Request.Control(Control.Select d)) ->
            db <- d
            replies.Add Reply.ok
        | Ok(Request.Data cmd) ->
            let ctx = { Now = now; NowMicros = now * 1000L; Random = 42UL; MaxBulkLen = 512L * 1024L * 1024L }
            let d = Decide.decide ctx ks db cmd
            ks <- Evolve.replay ks d.Events
            events.AddRange d.Events
            replies.Add d.Reply
        | Ok(Request.Control c) -> failwithf "unexpected control %A" c
        | Error r -> replies.Add r

    { Replies = List.ofSeq replies; Final = ks; Events = List.ofSeq events; Now = now }

let private runModel (steps: Step list) : Reply list * Model =
    let m = Model(databases)
    m.Now <- start

    let replies =
        [ for st in steps do
              m.Now <- m.Now + st.Advance
              let args = toArgs st.Args

              if st.Args.Head = "SELECT" then
                  m.Db <- int st.Args[1]
                  Reply.ok
              else
                  run m args ]

    replies, m

let private config = Config.QuickThrowOnFailure.WithMaxTest(500)

let private check (name: string) (prop: Step list -> bool) =
    ignore name
    Check.One(config, Prop.forAll (Arb.fromGen genSession) prop)

[<Fact>]
let ``decide agrees with the reference model on replies and final state`` () =
    check "model" (fun steps ->
        let real = runReal steps
        let replies, model = runModel steps

        if real.Replies <> replies then
            let firstDiff = List.zip real.Replies replies |> List.findIndex (fun (a, b) -> a <> b)
            failwithf "step %d (%A): real %A, model %A" firstDiff steps[firstDiff] real.Replies[firstDiff] replies[firstDiff]

        Keyspace.toMap real.Final = model.ToMap())

[<Fact>]
let ``replaying the logged events through their AOF form rebuilds the live state`` () =
    check "replay" (fun steps ->
        let real = runReal steps

        let reparsed = Replay.throughArgs real.Events

        reparsed = real.Events
        && Keyspace.toMap (Evolve.replay (Keyspace.create databases) reparsed) = Keyspace.toMap real.Final)

[<Fact>]
let ``a read logs nothing but the deletion of keys it found expired`` () =
    let reads = set [ "GET"; "MGET"; "STRLEN"; "EXISTS"; "TYPE"; "PTTL"; "GETRANGE"; "DBSIZE" ]

    check "reads" (fun steps ->
        let mutable ks = Keyspace.create databases
        let mutable now = start
        let mutable ok = true

        for st in steps do
            now <- now + st.Advance

            match Command.parse (toArgs st.Args) with
            | Ok(Request.Data cmd) ->
                let d = Decide.decide { Now = now; NowMicros = now * 1000L; Random = 7UL; MaxBulkLen = 1L <<< 29 } ks 0 cmd

                if reads.Contains st.Args.Head then
                    ok <- ok && d.Events |> List.forall (fun e -> match e.Op with Op.Del _ -> true | _ -> false)

                ks <- Evolve.replay ks d.Events
            | _ -> ()

        ok)

let private decide1 (ks: Keyspace) (now: int64) (args: string list) =
    match Command.parse (toArgs args) with
    | Ok(Request.Data cmd) -> Decide.decide { Now = now; NowMicros = now * 1000L; Random = 1UL; MaxBulkLen = 1L <<< 29 } ks 0 cmd
    | other -> failwithf "not a data command: %A" other

let private stepAll (now: int64) (cmds: string list list) =
    cmds |> List.fold (fun (ks, _) c -> let d = decide1 ks now c in Evolve.replay ks d.Events, d) (Keyspace.empty, Unchecked.defaultof<Decision>)

let private argsOf (d: Decision) = d.Events |> List.map (fun e -> Event.toArgs e.Op |> Array.map Bytes.toString |> List.ofArray)

[<Fact>]
let ``SET with EX is logged with an absolute PXAT`` () =
    let _, d = stepAll 5000L [ [ "SET"; "k"; "v"; "EX"; "10" ] ]
    Assert.Equal<string list list>([ [ "SET"; "k"; "v"; "PXAT"; "15000" ] ], argsOf d)

[<Fact>]
let ``EXPIRE is logged as PEXPIREAT and SETEX as SET PXAT`` () =
    let _, d = stepAll 1000L [ [ "SET"; "k"; "v" ]; [ "EXPIRE"; "k"; "5" ] ]
    Assert.Equal<string list list>([ [ "PEXPIREAT"; "k"; "6000" ] ], argsOf d)
    let _, d = stepAll 1000L [ [ "SETEX"; "k"; "2"; "v" ] ]
    Assert.Equal<string list list>([ [ "SET"; "k"; "v"; "PXAT"; "3000" ] ], argsOf d)

[<Fact>]
let ``INCRBYFLOAT is logged as SET with the exact result and KEEPTTL`` () =
    let _, d = stepAll 1000L [ [ "SET"; "f"; "0.1" ]; [ "INCRBYFLOAT"; "f"; "0.2" ] ]
    Assert.Equal(Reply.Bulk "0.3"B, d.Reply)
    Assert.Equal<string list list>([ [ "SET"; "f"; "0.3"; "KEEPTTL" ] ], argsOf d)

[<Fact>]
let ``a key found expired on access is logged as DEL`` () =
    let ks, _ = stepAll 1000L [ [ "SET"; "k"; "v"; "PX"; "10" ] ]
    let d = decide1 ks 2000L [ "GET"; "k" ]
    Assert.Equal(Reply.Nil, d.Reply)
    Assert.Equal<string list list>([ [ "DEL"; "k" ] ], argsOf d)
    Assert.Equal(1, d.Expired)

[<Fact>]
let ``a write that changes nothing logs nothing`` () =
    for cmd in [ [ "DEL"; "nope" ]; [ "PERSIST"; "nope" ]; [ "SETNX"; "k"; "other" ]; [ "FLUSHDB" ]; [ "EXPIRE"; "nope"; "10" ] ] do
        let ks, _ = stepAll 1000L (if cmd.Head = "FLUSHDB" then [] else [ [ "SET"; "k"; "v" ] ])
        let d = decide1 ks 1000L cmd
        Assert.Empty(d.Events)

[<Fact>]
let ``GETEX PERSIST and GETDEL log PERSIST and DEL`` () =
    let ks, _ = stepAll 1000L [ [ "SET"; "k"; "v"; "PX"; "100" ] ]
    Assert.Equal<string list list>([ [ "PERSIST"; "k" ] ], argsOf (decide1 ks 1000L [ "GETEX"; "k"; "PERSIST" ]))
    Assert.Equal<string list list>([ [ "DEL"; "k" ] ], argsOf (decide1 ks 1000L [ "GETDEL"; "k" ]))

[<Fact>]
let ``errors read as Redis 7 writes them`` () =
    let err args = match Command.parse (toArgs args) with Error(Reply.Error e) -> e | other -> failwithf "%A" other
    Assert.Equal("ERR wrong number of arguments for 'get' command", err [ "GET" ])
    Assert.Equal("ERR unknown command 'FOO', with args beginning with: 'a' 'b' ", err [ "FOO"; "a"; "b" ])
    Assert.Equal("ERR syntax error", err [ "SET"; "k"; "v"; "NX"; "XX" ])
    Assert.Equal("ERR invalid expire time in 'set' command", err [ "SET"; "k"; "v"; "EX"; "0" ])
    Assert.Equal("ERR value is not an integer or out of range", err [ "INCRBY"; "k"; "x" ])
    Assert.Equal("ERR unknown subcommand 'nope'. Try CONFIG HELP.", err [ "CONFIG"; "nope" ])
    let ks, _ = stepAll 1000L [ [ "SET"; "k"; "abc" ] ]
    Assert.Equal(Reply.notInteger, (decide1 ks 1000L [ "INCR"; "k" ]).Reply)
    Assert.Equal(Reply.Error "ERR no such key", (decide1 ks 1000L [ "RENAME"; "x"; "y" ]).Reply)

[<Fact>]
let ``bulk replay through transients equals replay`` () =
    check "bulk" (fun steps ->
        let real = runReal steps
        // Replaying twice over exercises transients on top of a non-empty state as well.
        let once = Evolve.replayBulk (Keyspace.create databases) real.Events
        let twice = Evolve.replayBulk once real.Events
        Keyspace.toMap once = Keyspace.toMap real.Final
        && Keyspace.toMap twice = Keyspace.toMap (Evolve.replay real.Final real.Events))

[<Fact>]
let ``INCRBYFLOAT adds in long double and prints the exact sum, as redis-server 7.0.15 does`` () =
    let ks, _ = stepAll 1000L [ [ "SET"; "f"; "0.1" ]; [ "SET"; "g"; "10.5" ] ]
    Assert.Equal(Reply.Bulk "1000000000000000.0999755859375"B, (decide1 ks 1000L [ "INCRBYFLOAT"; "f"; "1e15" ]).Reply)
    Assert.Equal(Reply.Bulk "10.6"B, (decide1 ks 1000L [ "INCRBYFLOAT"; "g"; "0.1" ]).Reply)
    Assert.Equal(Reply.Error "ERR increment would produce NaN or Infinity", (decide1 ks 1000L [ "INCRBYFLOAT"; "g"; "inf" ]).Reply)
    Assert.Equal(Reply.notFloat, (decide1 ks 1000L [ "INCRBYFLOAT"; "g"; "abc" ]).Reply)
    Assert.Equal(Reply.notFloat, (decide1 ks 1000L [ "INCRBYFLOAT"; "missing"; "abc" ]).Reply)
    // The key's type is checked before the increment is read, as in redis-server 7.0.15.
    let ks, _ = stepAll 1000L [ [ "RPUSH"; "l"; "a" ] ]
    Assert.Equal(Reply.wrongType, (decide1 ks 1000L [ "INCRBYFLOAT"; "l"; "abc" ]).Reply)

[<Fact>]
let ``every SCAN reads its cursor as strtoul does (redis-server 7.0.15 takes "", "+1" and "-1")`` () =
    for cmd in [ [ "SCAN" ]; [ "HSCAN"; "h" ]; [ "SSCAN"; "s" ]; [ "ZSCAN"; "z" ] ] do
        for cursor in [ ""; "+1"; "-1"; "18446744073709551615" ] do
            Assert.True(Result.isOk (Command.parse (toArgs (cmd @ [ cursor ]))), sprintf "%A %s" cmd cursor)

        for cursor in [ "-"; "x"; " 1"; "18446744073709551616" ] do
            Assert.Equal(Error(Reply.Error "ERR invalid cursor"), Command.parse (toArgs (cmd @ [ cursor ])))

[<Fact>]
let ``DEBUG reads its numbers as strtod and atoi do and LOADAOF ignores what follows (redis-server 7.0.15 answers OK to all of these)`` () =
    let sleep arg =
        match Command.parse (toArgs [ "DEBUG"; "SLEEP"; arg ]) with
        | Ok(Request.Control(Control.Debug(Debug.Sleep s))) -> s
        | other -> failwithf "%A" other

    let activeExpire arg =
        match Command.parse (toArgs [ "DEBUG"; "SET-ACTIVE-EXPIRE"; arg ]) with
        | Ok(Request.Control(Control.Debug(Debug.SetActiveExpire on))) -> on
        | other -> failwithf "%A" other

    // Measured: `sleep 0.2abc` took 0.209 s, `sleep 1e-1` 0.109 s, `sleep abc` and `sleep -1` returned at once.
    Assert.Equal(0.2, sleep "0.2abc")
    Assert.Equal(0.1, sleep "1e-1")
    Assert.Equal(0.5, sleep " .5")
    Assert.Equal(0.0, sleep "abc")
    Assert.Equal(0.0, sleep "-1")
    Assert.Equal(0.0, sleep ".")
    Assert.Equal(3.0, sleep "3e")
    Assert.Equal(float System.Int32.MaxValue / 1000.0, sleep "1e400")
    Assert.True(activeExpire "1x")
    Assert.True(activeExpire "-2")
    Assert.False(activeExpire "abc")
    Assert.False(activeExpire "0")
    Assert.Equal(Ok(Request.Control(Control.Debug Debug.LoadAof)), Command.parse (toArgs [ "DEBUG"; "LOADAOF"; "x"; "y" ]))

[<Fact>]
let ``GETEX finds the key before it reads the expiry's number, and TOUCH counts as EXISTS (redis-server 7.0.15)`` () =
    let ks, _ = stepAll 1000L [ [ "SET"; "s"; "v" ]; [ "RPUSH"; "l"; "a" ] ]
    let replyOf args = (decide1 ks 1000L args).Reply
    Assert.Equal(Reply.Nil, replyOf [ "GETEX"; "missing"; "EXAT"; "abc" ])
    Assert.Equal(Reply.Nil, replyOf [ "GETEX"; "missing"; "EX"; "0" ])
    Assert.Equal(Reply.wrongType, replyOf [ "GETEX"; "l"; "EXAT"; "abc" ])
    Assert.Equal(Reply.notInteger, replyOf [ "GETEX"; "s"; "EXAT"; "abc" ])
    Assert.Equal(Reply.Error "ERR invalid expire time in 'getex' command", replyOf [ "GETEX"; "s"; "EX"; "0" ])
    Assert.Equal(Error Reply.syntaxError, Command.parse (toArgs [ "GETEX"; "missing"; "FOO" ]))
    Assert.Equal(Error Reply.syntaxError, Command.parse (toArgs [ "GETEX"; "missing"; "EX" ]))
    Assert.Equal(Reply.Integer 2L, replyOf [ "TOUCH"; "s"; "s"; "missing" ])
    Assert.Equal(Error(Reply.Error "ERR wrong number of arguments for 'touch' command"), Command.parse (toArgs [ "TOUCH" ]))
