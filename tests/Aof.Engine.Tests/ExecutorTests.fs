module Aof.Engine.Tests.ExecutorTests

open System
open System.Diagnostics
open Xunit
open Aof.Core
open Aof.Engine

let private start (dir: AofSupport.Scratch) (extra: string list) =
    match Server.Start(List.toArray ([ "--dir"; dir.Path; "--appendonly"; "no"; "--logfile"; IO.Path.Combine(dir.Path, "log.txt") ] @ extra)) with
    | Ok s -> s
    | Error(struct (msg, _)) -> failwith msg

let private connect (s: Server) =
    match s.Connect("127.0.0.1:5000", "127.0.0.1:6379") with
    | ValueSome c -> c
    | ValueNone -> failwith "refused"

let private call (s: Server) (c: Session) (args: string list) =
    s.Call(c, args |> List.map Bytes.ofString |> List.toArray)

let private bulk (t: string) = Reply.Bulk(Bytes.ofString t)

/// Polls a condition with a bound instead of sleeping for luck.
let private eventually (what: string) (timeoutMs: int) (cond: unit -> bool) =
    let sw = Stopwatch.StartNew()

    while not (cond ()) do
        if sw.ElapsedMilliseconds > int64 timeoutMs then failwithf "timed out waiting for %s" what
        Threading.Thread.Sleep 10

[<Fact>]
let ``MULTI queues commands and EXEC runs them in order`` () =
    use dir = new AofSupport.Scratch "exec"
    use s = start dir []
    let c = connect s
    Assert.Equal(Reply.ok, call s c [ "MULTI" ])
    Assert.Equal(Reply.queued, call s c [ "SET"; "k"; "1" ])
    Assert.Equal(Reply.queued, call s c [ "INCR"; "k" ])
    Assert.Equal(Reply.queued, call s c [ "GET"; "k" ])
    Assert.Equal(Reply.Array [| Reply.ok; Reply.Integer 2L; bulk "2" |], call s c [ "EXEC" ])

[<Fact>]
let ``an unknown command inside MULTI discards the transaction at EXEC`` () =
    use dir = new AofSupport.Scratch "exec"
    use s = start dir []
    let c = connect s
    call s c [ "MULTI" ] |> ignore
    call s c [ "SET"; "k"; "1" ] |> ignore
    Assert.Equal(Reply.Error "ERR unknown command 'NOPE', with args beginning with: ", call s c [ "NOPE" ])
    Assert.Equal(Reply.Error "EXECABORT Transaction discarded because of previous errors.", call s c [ "EXEC" ])
    Assert.Equal(Reply.Nil, call s c [ "GET"; "k" ])

[<Fact>]
let ``a command's own error inside MULTI is reported in EXEC's reply and the rest still runs`` () =
    use dir = new AofSupport.Scratch "exec"
    use s = start dir []
    let c = connect s
    call s c [ "MULTI" ] |> ignore
    call s c [ "SET"; "k"; "v"; "BADOPT" ] |> ignore
    call s c [ "SET"; "j"; "1" ] |> ignore
    Assert.Equal(Reply.Array [| Reply.syntaxError; Reply.ok |], call s c [ "EXEC" ])

[<Fact>]
let ``EXEC aborts with a nil array when a watched key was changed by another client`` () =
    use dir = new AofSupport.Scratch "exec"
    use s = start dir []
    let a = connect s
    let b = connect s
    call s a [ "SET"; "k"; "1" ] |> ignore
    call s a [ "WATCH"; "k" ] |> ignore
    call s a [ "MULTI" ] |> ignore
    call s a [ "SET"; "k"; "from-a" ] |> ignore
    call s b [ "SET"; "k"; "from-b" ] |> ignore
    Assert.Equal(Reply.NilArray, call s a [ "EXEC" ])
    Assert.Equal(bulk "from-b", call s a [ "GET"; "k" ])

[<Fact>]
let ``EXEC runs when watched keys are untouched and DISCARD without MULTI is an error`` () =
    use dir = new AofSupport.Scratch "exec"
    use s = start dir []
    let a = connect s
    call s a [ "WATCH"; "k" ] |> ignore
    call s a [ "MULTI" ] |> ignore
    call s a [ "SET"; "k"; "1" ] |> ignore
    Assert.Equal(Reply.Array [| Reply.ok |], call s a [ "EXEC" ])
    Assert.Equal(Reply.Error "ERR DISCARD without MULTI", call s a [ "DISCARD" ])
    Assert.Equal(Reply.Error "ERR EXEC without MULTI", call s a [ "EXEC" ])

[<Fact>]
let ``SELECT isolates databases per connection`` () =
    use dir = new AofSupport.Scratch "exec"
    use s = start dir []
    let a = connect s
    let b = connect s
    call s a [ "SELECT"; "3" ] |> ignore
    call s a [ "SET"; "k"; "in3" ] |> ignore
    Assert.Equal(Reply.Nil, call s b [ "GET"; "k" ])
    Assert.Equal(Reply.dbIndexOutOfRange, call s b [ "SELECT"; "16" ])
    call s b [ "SELECT"; "3" ] |> ignore
    Assert.Equal(bulk "in3", call s b [ "GET"; "k" ])

[<Fact>]
let ``requirepass answers NOAUTH until AUTH succeeds`` () =
    use dir = new AofSupport.Scratch "exec"
    use s = start dir [ "--requirepass"; "sekret" ]
    let c = connect s
    Assert.Equal(Reply.Error "NOAUTH Authentication required.", call s c [ "GET"; "k" ])
    Assert.Equal(Reply.Error "WRONGPASS invalid username-password pair or user is disabled.", call s c [ "AUTH"; "nope" ])
    Assert.Equal(Reply.ok, call s c [ "AUTH"; "sekret" ])
    Assert.Equal(Reply.Nil, call s c [ "GET"; "k" ])

[<Fact>]
let ``AUTH without a configured password says so`` () =
    use dir = new AofSupport.Scratch "exec"
    use s = start dir []
    let c = connect s

    Assert.Equal(
        Reply.Error "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        call s c [ "AUTH"; "x" ]
    )

[<Fact>]
let ``CLIENT SETNAME GETNAME ID and KILL`` () =
    use dir = new AofSupport.Scratch "exec"
    use s = start dir []
    let a = connect s
    let b = connect s
    Assert.Equal(Reply.Nil, call s a [ "CLIENT"; "GETNAME" ])
    Assert.Equal(Reply.ok, call s a [ "CLIENT"; "SETNAME"; "worker-1" ])
    Assert.Equal(bulk "worker-1", call s a [ "CLIENT"; "GETNAME" ])
    Assert.Equal(Reply.Error "ERR Client names cannot contain spaces, newlines or special characters.", call s a [ "CLIENT"; "SETNAME"; "a b" ])
    Assert.Equal(Reply.Integer a.Id, call s a [ "CLIENT"; "ID" ])

    match call s a [ "CLIENT"; "LIST" ] with
    | Reply.Bulk text -> Assert.Contains("name=worker-1", Bytes.toString text)
    | other -> failwithf "%A" other

    Assert.Equal(Reply.Integer 1L, call s a [ "CLIENT"; "KILL"; "ID"; string b.Id ])
    Assert.True(b.IsClosing)
    Assert.True(b.Killed.IsCancellationRequested)
    Assert.False(a.IsClosing)

[<Fact>]
let ``keys with a TTL that nobody reads are expired by the active cycle`` () =
    use dir = new AofSupport.Scratch "exec"
    use s = start dir [ "--hz"; "100" ]
    let c = connect s

    for i in 1..50 do
        call s c [ "SET"; sprintf "k%d" i; "v"; "PX"; "30" ] |> ignore

    call s c [ "SET"; "keep"; "v" ] |> ignore
    eventually "the active cycle to remove the volatile keys" 5000 (fun () -> Db.size s.Keyspace.Dbs[0] = 1)

    match call s c [ "INFO"; "stats" ] with
    | Reply.Bulk text -> Assert.Contains("expired_keys:50", Bytes.toString text)
    | other -> failwithf "%A" other

[<Fact>]
let ``INFO carries Redis's section and field names`` () =
    use dir = new AofSupport.Scratch "exec"
    use s = start dir []
    let c = connect s
    call s c [ "SET"; "k"; "v"; "EX"; "100" ] |> ignore
    call s c [ "GET"; "k" ] |> ignore
    call s c [ "GET"; "missing" ] |> ignore

    match call s c [ "INFO" ] with
    | Reply.Bulk b ->
        let text = Bytes.toString b

        for field in
            [ "# Server"; "redis_version:"; "tcp_port:"; "# Clients"; "connected_clients:1"; "# Memory"; "used_memory:"
              "# Persistence"; "loading:0"; "aof_enabled:"; "# Stats"; "total_commands_processed:"; "keyspace_hits:1"
              "keyspace_misses:1"; "expired_keys:0"; "# Keyspace"; "db0:keys=1,expires=1,avg_ttl=" ] do
            Assert.Contains(field, text)
    | other -> failwithf "%A" other

[<Fact>]
let ``QUIT replies OK and marks the connection closing; SHUTDOWN asks the server to stop`` () =
    use dir = new AofSupport.Scratch "exec"
    use s = start dir []
    let c = connect s
    Assert.Equal(Reply.ok, call s c [ "QUIT" ])
    Assert.True(c.IsClosing)
    let d = connect s
    call s d [ "SHUTDOWN"; "NOSAVE" ] |> ignore
    Assert.True(s.ShutdownRequested.IsCancellationRequested)

[<Fact>]
let ``HELLO 2 describes the server and HELLO 3 is refused`` () =
    use dir = new AofSupport.Scratch "exec"
    use s = start dir []
    let c = connect s

    match call s c [ "HELLO"; "2" ] with
    | Reply.Array items -> Assert.Equal(bulk "proto", items[4]); Assert.Equal(Reply.Integer 2L, items[5])
    | other -> failwithf "%A" other

    Assert.Equal(Reply.Error "NOPROTO unsupported protocol version", call s c [ "HELLO"; "3" ])
