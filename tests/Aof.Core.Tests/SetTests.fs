module Aof.Core.Tests.SetTests

open System
open System.Collections.Generic
open Xunit
open FsCheck
open FsCheck.FSharp
open Aof.Core

// ---------------------------------------------------------------------------------------------------------
// A plain, mutable reference model of Redis 7.0's set commands (and the few string/key commands the
// sessions mix in), written from the Redis documentation and the replies of redis-server 7.0.15 rather
// than from SetsDecide. One database; keys expire eagerly (every expired key goes before each command),
// which no command here can tell from Redis's lazy expiry, so final states are compared as a client
// would see them.

type private MValue =
    | MStr of string
    | MSet of HashSet<string>

type private MEntry = { mutable V: MValue; mutable Exp: int64 }

let private wrongType = Reply.Error "WRONGTYPE Operation against a key holding the wrong kind of value"
let private bulk (s: string) = Reply.Bulk(Bytes.ofString s)
let private bulks (xs: seq<string>) = Reply.Array [| for x in xs -> bulk x |]
let private int' (n: int) = Reply.Integer(int64 n)
let private text (r: Reply) = match r with Reply.Bulk b -> Bytes.toString b | other -> failwithf "not a bulk: %A" other

/// Set replies come in no particular order: compared as sorted (multi)sets.
let rec private norm (r: Reply) : Reply =
    match r with
    | Reply.Array xs when xs |> Array.forall (function Reply.Bulk _ -> true | _ -> false) ->
        Reply.Array(xs |> Array.sortBy text)
    | Reply.Array xs -> Reply.Array(Array.map norm xs)
    | other -> other

/// What the model makes of a random command's answer that breaks the rules: never equal to a real reply.
let private illegal (why: string) = Reply.Error("MODEL: illegal random pick: " + why)

type private SetModel() =
    let keys = Dictionary<string, MEntry>()
    member val Now = 0L with get, set

    member m.ExpireAll() =
        for k in List.ofSeq keys.Keys do
            if keys[k].Exp >= 0L && keys[k].Exp <= m.Now then keys.Remove k |> ignore

    /// Ok None: no key; Ok(Some set); Error: a string.
    member _.Set(k: string) : Result<HashSet<string> option, Reply> =
        match keys.TryGetValue k with
        | true, { V = MSet s } -> Ok(Some s)
        | true, _ -> Error wrongType
        | _ -> Ok None

    member _.Exists(k: string) = keys.ContainsKey k

    /// Stores a set under `k`, keeping the key's TTL when it already held one; empty sets are removed.
    member _.Put(k: string, s: HashSet<string>, keepTtl: bool) =
        if s.Count = 0 then keys.Remove k |> ignore
        else
            match keys.TryGetValue k with
            | true, e when keepTtl -> e.V <- MSet s
            | _ -> keys[k] <- { V = MSet s; Exp = -1L }

    member _.PutString(k: string, v: string) = keys[k] <- { V = MStr v; Exp = -1L }
    member _.Remove(k: string) = keys.Remove k

    member m.Expire(k: string, ms: int64) =
        match keys.TryGetValue k with
        | true, e ->
            e.Exp <- m.Now + ms
            true
        | _ -> false

    member _.Picture() : Map<int, Map<string, Plain * int64>> =
        let picture =
            keys
            |> Seq.map (fun kv ->
                let plain =
                    match kv.Value.V with
                    | MStr s -> Plain.Str(Bytes.ofString s)
                    | MSet s -> Plain.Set(Set.ofSeq s)

                kv.Key, (plain, kv.Value.Exp))
            |> Map.ofSeq

        if picture.IsEmpty then Map.empty else Map.ofList [ 0, picture ]

let private mustBePositive = Reply.Error "ERR value is out of range, must be positive"

/// The sets named, missing keys as empty sets; the WRONGTYPE error if any is a string.
let private setsOf (m: SetModel) (ks: string list) : Result<HashSet<string> list, Reply> =
    let found = ks |> List.map m.Set

    match found |> List.tryPick (function Error e -> Some e | _ -> None) with
    | Some e -> Error e
    | None -> Ok(found |> List.map (function Ok(Some s) -> HashSet s | _ -> HashSet()))

let private algebra (op: string) (sets: HashSet<string> list) : HashSet<string> =
    let first = HashSet(List.head sets)

    for s in List.tail sets do
        match op with
        | "INTER" -> first.IntersectWith s
        | "UNION" -> first.UnionWith s
        | _ -> first.ExceptWith s

    first

/// MATCH patterns the sessions use, read the way Redis's glob reads them.
let private matches (pattern: string) (x: string) =
    match pattern with
    | "*" -> true
    | "a*" -> x.StartsWith "a"
    | "[ab]" -> x = "a" || x = "b"
    | "?" -> x.Length = 1
    | p -> failwithf "pattern %s not modelled" p

/// Runs one command in the model. For SPOP and SRANDMEMBER the model cannot know the pick: it checks that
/// the real reply `actual` is a pick Redis could have made, and follows it.
let private runModel (m: SetModel) (args: string list) (actual: Reply) : Reply =
    m.ExpireAll()
    let asInt (s: string) = match Int64.TryParse s with | true, n -> Some n | _ -> None

    match args with
    | [ "SET"; k; v ] ->
        m.PutString(k, v)
        Reply.ok
    | [ "DEL"; k ] -> int' (if m.Remove k then 1 else 0)
    | [ "PEXPIRE"; k; t ] -> int' (if m.Expire(k, int64 t) then 1 else 0)
    | "SADD" :: k :: ms ->
        match m.Set k with
        | Error e -> e
        | Ok found ->
            let s = defaultArg found (HashSet())
            let added = ms |> List.filter s.Add |> List.length
            m.Put(k, s, true)
            int' added
    | "SREM" :: k :: ms ->
        match m.Set k with
        | Error e -> e
        | Ok None -> int' 0
        | Ok(Some s) ->
            let removed = ms |> List.filter s.Remove |> List.length
            m.Put(k, s, true)
            int' removed
    | [ "SMEMBERS"; k ] ->
        match m.Set k with
        | Error e -> e
        | Ok s -> bulks (defaultArg s (HashSet()))
    | [ "SISMEMBER"; k; x ] ->
        match m.Set k with
        | Error e -> e
        | Ok s -> int' (if s.IsSome && s.Value.Contains x then 1 else 0)
    | "SMISMEMBER" :: k :: ms ->
        match m.Set k with
        | Error e -> e
        | Ok s -> Reply.Array [| for x in ms -> int' (if s.IsSome && s.Value.Contains x then 1 else 0) |]
    | [ "SCARD"; k ] ->
        match m.Set k with
        | Error e -> e
        | Ok s -> int' (match s with Some s -> s.Count | None -> 0)
    | [ "SPOP"; k ] ->
        match m.Set k, actual with
        | Error e, _ -> e
        | Ok None, _ -> Reply.Nil
        | Ok(Some s), Reply.Bulk b when s.Remove(Bytes.toString b) ->
            m.Put(k, s, true)
            actual
        | Ok _, _ -> illegal "SPOP"
    | [ "SPOP"; _; n ] when asInt n |> Option.forall (fun n -> n < 0L) -> mustBePositive
    | [ "SPOP"; k; n ] ->
        let n = int (asInt n).Value

        match m.Set k, actual with
        | Error e, _ -> e
        | Ok None, _ -> Reply.emptyArray
        | Ok _, _ when n = 0 -> Reply.emptyArray
        | Ok(Some s), Reply.Array picks ->
            let picked = picks |> Array.map text
            let distinct = picked |> Array.distinct

            if picked.Length = min n s.Count && distinct.Length = picked.Length && picked |> Array.forall s.Contains then
                for x in picked do
                    s.Remove x |> ignore

                m.Put(k, s, true)
                actual
            else
                illegal "SPOP count"
        | Ok _, _ -> illegal "SPOP count"
    | [ "SRANDMEMBER"; k ] ->
        match m.Set k, actual with
        | Error e, _ -> e
        | Ok None, _ -> Reply.Nil
        | Ok(Some s), Reply.Bulk b when s.Contains(Bytes.toString b) -> actual
        | Ok _, _ -> illegal "SRANDMEMBER"
    | [ "SRANDMEMBER"; k; n ] ->
        let n = int (asInt n).Value

        match m.Set k, actual with
        | Error e, _ -> e
        | Ok None, _ -> Reply.emptyArray
        | Ok _, _ when n = 0 -> Reply.emptyArray
        | Ok(Some s), Reply.Array picks ->
            let picked = picks |> Array.map text
            let fromSet = picked |> Array.forall s.Contains

            let legal =
                if n > 0 then fromSet && picked.Length = min n s.Count && (Array.distinct picked).Length = picked.Length
                else fromSet && picked.Length = -n

            if legal then actual else illegal "SRANDMEMBER count"
        | Ok _, _ -> illegal "SRANDMEMBER count"
    | [ "SMOVE"; src; dst; x ] ->
        match m.Set src, m.Set dst with
        | Ok None, _ -> int' 0
        | Error e, _
        | _, Error e -> e
        | Ok(Some s), _ when src = dst -> int' (if s.Contains x then 1 else 0)
        | Ok(Some s), Ok d ->
            if s.Remove x then
                m.Put(src, s, true)
                let d = defaultArg d (HashSet())
                d.Add x |> ignore
                m.Put(dst, d, true)
                int' 1
            else
                int' 0
    | ("SINTER" | "SUNION" | "SDIFF" as op) :: ks ->
        match setsOf m ks with
        | Error e -> e
        | Ok sets -> bulks (algebra (op.Substring 1) sets)
    | "SINTERCARD" :: n :: rest ->
        match asInt n with
        | Some n when n >= 1L ->
            if int n > rest.Length then
                Reply.Error "ERR Number of keys can't be greater than number of args"
            else
                let ks = List.take (int n) rest

                let limit =
                    match List.skip (int n) rest with
                    | [] -> Ok 0
                    | [ "LIMIT"; l ] ->
                        match asInt l with
                        | Some l when l >= 0L -> Ok(int l)
                        | _ -> Error(Reply.Error "ERR LIMIT can't be negative")
                    | _ -> Error Reply.syntaxError

                match limit with
                | Error e -> e
                | Ok limit ->
                    match setsOf m ks with
                    | Error e -> e
                    | Ok sets ->
                        let size = (algebra "INTER" sets).Count
                        int' (if limit = 0 then size else min limit size)
        | _ -> Reply.Error "ERR numkeys should be greater than 0"
    | ("SINTERSTORE" | "SUNIONSTORE" | "SDIFFSTORE" as op) :: dst :: ks ->
        match setsOf m ks with
        | Error e -> e
        | Ok sets ->
            let result = algebra (op.Substring(1, op.Length - 6)) sets
            m.Remove dst |> ignore
            m.Put(dst, result, false)
            int' result.Count
    | "SSCAN" :: k :: "0" :: options ->
        match m.Set k with
        | Error e -> e
        | Ok None -> Reply.Array [| bulk "0"; Reply.emptyArray |]
        | Ok(Some s) ->
            let pattern =
                match options with
                | "MATCH" :: p :: _ -> p
                | _ -> "*"

            // Sets this small come back whole, with cursor 0 (intsets always; others when COUNT covers them).
            Reply.Array [| bulk "0"; bulks (s |> Seq.filter (matches pattern)) |]
    | other -> failwithf "not modelled: %A" other

// ---------------------------------------------------------------------------------------------------------
// Sessions

type private Step = { Advance: int64; Args: string list }

let private genKey = Gen.elements [ "s1"; "s2"; "s3"; "str" ]
let private genMember = Gen.elements [ "a"; "b"; "c"; "d"; "1"; "2"; "" ]
let private genMembers = Gen.choose (1, 4) |> Gen.bind (fun n -> Gen.listOfLength n genMember)
let private genKeys = Gen.choose (1, 3) |> Gen.bind (fun n -> Gen.listOfLength n genKey)

let private genArgs: Gen<string list> =
    let k = genKey

    Gen.frequency
        [ 8, Gen.map2 (fun k ms -> "SADD" :: k :: ms) k genMembers
          3, Gen.map2 (fun k ms -> "SREM" :: k :: ms) k genMembers
          2, Gen.map (fun k -> [ "SMEMBERS"; k ]) k
          1, Gen.map2 (fun k x -> [ "SISMEMBER"; k; x ]) k genMember
          1, Gen.map2 (fun k ms -> "SMISMEMBER" :: k :: ms) k genMembers
          1, Gen.map (fun k -> [ "SCARD"; k ]) k
          2, Gen.map (fun k -> [ "SPOP"; k ]) k
          2, Gen.map2 (fun k n -> [ "SPOP"; k; string n ]) k (Gen.choose (-1, 5))
          1, Gen.map (fun k -> [ "SRANDMEMBER"; k ]) k
          2, Gen.map2 (fun k n -> [ "SRANDMEMBER"; k; string n ]) k (Gen.choose (-5, 5))
          3, Gen.map3 (fun a b x -> [ "SMOVE"; a; b; x ]) k k genMember
          3, Gen.map2 (fun op ks -> op :: ks) (Gen.elements [ "SINTER"; "SUNION"; "SDIFF" ]) genKeys
          2,
          gen {
              let! ks = genKeys
              let! n = Gen.frequency [ 8, Gen.constant ks.Length; 1, Gen.choose (0, 4) ]
              let! limit = Gen.elements [ []; [ "LIMIT"; "0" ]; [ "LIMIT"; "1" ]; [ "LIMIT"; "2" ]; [ "LIMIT"; "-1" ] ]
              return "SINTERCARD" :: string n :: ks @ limit
          }
          4, Gen.map3 (fun op d ks -> op :: d :: ks) (Gen.elements [ "SINTERSTORE"; "SUNIONSTORE"; "SDIFFSTORE" ]) k genKeys
          2,
          gen {
              let! k = k
              let! pattern = Gen.elements [ []; [ "MATCH"; "*" ]; [ "MATCH"; "a*" ]; [ "MATCH"; "[ab]" ]; [ "MATCH"; "?" ] ]
              // COUNT of at least the members there can be: a set that is paged (not all-integer) still comes
              // back whole from cursor 0, which is what the model can predict.
              let! count = Gen.elements [ []; [ "COUNT"; "10" ]; [ "COUNT"; "100" ] ]
              return [ "SSCAN"; k; "0" ] @ pattern @ count
          }
          2, Gen.map2 (fun k v -> [ "SET"; k; v ]) k (Gen.elements [ "x"; "1" ])
          1, Gen.map (fun k -> [ "DEL"; k ]) k
          1, Gen.map2 (fun k t -> [ "PEXPIRE"; k; string t ]) k (Gen.choose (1, 2000)) ]

let private genSession: Gen<Step list> =
    let step = Gen.map2 (fun adv args -> { Advance = int64 adv; Args = args }) (Gen.frequency [ 4, Gen.constant 0; 1, Gen.choose (1, 1000) ]) genArgs
    Gen.listOf step

let private start = 1_000_000L
let private toArgs (l: string list) = l |> List.map Bytes.ofString |> List.toArray

type private Run =
    { Replies: Reply list
      Final: Keyspace
      Events: Event list
      Times: int64 list }

/// The real thing: parse, decide, apply, with a different random number for every command.
let private runReal (seed: int) (steps: Step list) : Run =
    let mutable ks = Keyspace.create 1
    let mutable now = start
    let events = ResizeArray()
    let replies = ResizeArray()
    let times = ResizeArray()

    steps
    |> List.iteri (fun i st ->
        now <- now + st.Advance
        times.Add now

        match Command.parse (toArgs st.Args) with
        | Ok(Request.Data cmd) ->
            let rnd = uint64 seed * 0x9E3779B97F4A7C15UL + uint64 i
            let ctx = { Now = now; NowMicros = now * 1000L; Random = rnd; MaxBulkLen = 512L * 1024L * 1024L }
            let d = Decide.decide ctx ks 0 cmd
            ks <- Evolve.replay ks d.Events
            events.AddRange d.Events
            replies.Add d.Reply
        | Ok(Request.Control c) -> failwithf "unexpected control %A" c
        | Error r -> replies.Add r)

    { Replies = List.ofSeq replies; Final = ks; Events = List.ofSeq events; Times = List.ofSeq times }

/// What a client could still read at `now`.
let private alive (now: int64) (picture: Map<int, Map<string, Plain * int64>>) =
    picture
    |> Map.map (fun _ keys -> keys |> Map.filter (fun _ (_, at) -> at = Expiry.none || at > now))
    |> Map.filter (fun _ keys -> not keys.IsEmpty)

let private config = Config.QuickThrowOnFailure.WithMaxTest(500)

let private check (prop: int * Step list -> bool) =
    Check.One(config, Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (0, 1_000_000)) genSession)) prop)

let private finalNow (run: Run) = if run.Times.IsEmpty then start else List.last run.Times

[<Fact>]
let ``set commands agree with the reference model on replies and final state`` () =
    check (fun (seed, steps) ->
        let real = runReal seed steps
        let model = SetModel()

        (steps, real.Replies, real.Times)
        |||> List.zip3
        |> List.iteri (fun i (st, actual, now) ->
            model.Now <- now
            let expected = runModel model st.Args actual

            if norm actual <> norm expected then
                failwithf "step %d %A: real %A, model %A" i st.Args actual expected)

        model.Now <- finalNow real
        alive model.Now (Keyspace.toMap real.Final) = alive model.Now (model.Picture()))

[<Fact>]
let ``replaying the logged set events through their AOF form rebuilds the live state`` () =
    check (fun (seed, steps) ->
        let real = runReal seed steps

        let reparsed = Replay.throughArgs real.Events

        List.forall2 (fun (a: Event) (b: Event) -> Event.toArgs a.Op = Event.toArgs b.Op) reparsed real.Events
        && Keyspace.toMap (Evolve.replay (Keyspace.create 1) reparsed) = Keyspace.toMap real.Final)

let private setCommandSizes (events: Event seq) =
    events
    |> Seq.choose (fun e ->
        match e.Op with
        | Op.Sets op -> Some((SetOp.toArgs op).Length - 2)
        | _ -> None)

[<Fact>]
let ``replay of the rewrite of a session equals the session's state`` () =
    check (fun (seed, steps) ->
        let real = runReal seed steps
        let now = finalNow real
        let events = Rewrite.project now real.Final |> List.ofSeq
        let rebuilt = Evolve.replay (Keyspace.create 1) events
        alive now (Keyspace.toMap rebuilt) = alive now (Keyspace.toMap real.Final)
        && setCommandSizes events |> Seq.forall (fun n -> n >= 1 && n <= 64))

[<Fact>]
let ``the rewrite of a set is SADD chunks of at most 64 members that rebuild it`` () =
    let gen = Gen.choose (1, 400) |> Gen.map (fun n -> [| for i in 1..n -> Bytes.ofString (sprintf "m:%d" i) |])

    Check.One(
        Config.QuickThrowOnFailure.WithMaxTest(100),
        Prop.forAll (Arb.fromGen gen) (fun members ->
            let s = Champ.ofSeq [ for m in members -> m, () ]
            let ops = SetOp.project "k"B s
            let rebuilt = ops |> List.fold (fun db op -> SetOp.apply op db) Db.empty

            ops.Length = (members.Length + 63) / 64
            && ops |> List.forall (function SetOp.Add(_, ms) -> ms.Length <= 64 | _ -> false)
            && (match Db.tryFind "k"B rebuilt with
                | ValueSome e -> Value.toPlain e.Value = Value.toPlain (Value.Set s) && e.ExpireAt = Expiry.none
                | ValueNone -> false))
    )

// ---------------------------------------------------------------------------------------------------------
// Edge replies, each checked against redis-server 7.0.15 (redis-cli --no-raw on a fresh server).

let private ctxAt (rnd: uint64) = { Now = start; NowMicros = start * 1000L; Random = rnd; MaxBulkLen = 1L <<< 29 }

/// Runs `setup` then `cmd` from an empty keyspace; the last decision and the state before it.
let private after (setup: string list list) (cmd: string list) : Decision * Keyspace =
    let exec ks args =
        match Command.parse (toArgs args) with
        | Ok(Request.Data c) ->
            let d = Decide.decide (ctxAt 7UL) ks 0 c
            Evolve.replay ks d.Events, d
        | Error r -> ks, { Reply = r; Events = []; Hits = 0; Misses = 0; Expired = 0; Blocked = false }
        | Ok other -> failwithf "%A" other

    let ks = setup |> List.fold (fun ks a -> fst (exec ks a)) (Keyspace.create 1)
    snd (exec ks cmd), ks

let private base' = [ [ "SET"; "str"; "v" ]; [ "SADD"; "s"; "a"; "b"; "c" ]; [ "SADD"; "t"; "b"; "c"; "d" ] ]
let private replyTo (cmd: string list) = norm (fst (after base' cmd)).Reply
let private err (s: string) = Reply.Error s
let private logged (setup: string list list) (cmd: string list) =
    (fst (after setup cmd)).Events |> List.map (fun e -> Event.toArgs e.Op |> Array.map Bytes.toString |> List.ofArray)

[<Fact>]
let ``argument errors read as Redis 7 writes them`` () =
    Assert.Equal(err "ERR wrong number of arguments for 'sadd' command", replyTo [ "SADD"; "s" ])
    Assert.Equal(err "ERR wrong number of arguments for 'sintercard' command", replyTo [ "SINTERCARD"; "1" ])
    Assert.Equal(err "ERR wrong number of arguments for 'smove' command", replyTo [ "SMOVE"; "s"; "t" ])
    Assert.Equal(err "ERR wrong number of arguments for 'sunion' command", replyTo [ "SUNION" ])
    Assert.Equal(err "ERR value is out of range, must be positive", replyTo [ "SPOP"; "s"; "-1" ])
    Assert.Equal(err "ERR value is out of range, must be positive", replyTo [ "SPOP"; "s"; "x" ])
    // The count is read before the key: a bad count wins over WRONGTYPE.
    Assert.Equal(err "ERR value is out of range, must be positive", replyTo [ "SPOP"; "str"; "-1" ])
    Assert.Equal(Reply.syntaxError, replyTo [ "SPOP"; "s"; "1"; "2" ])
    Assert.Equal(Reply.notInteger, replyTo [ "SRANDMEMBER"; "str"; "x" ])
    Assert.Equal(Reply.syntaxError, replyTo [ "SRANDMEMBER"; "s"; "1"; "2" ])
    Assert.Equal(
        err "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        replyTo [ "SRANDMEMBER"; "s"; "-9223372036854775808" ]
    )
    Assert.Equal(err "ERR numkeys should be greater than 0", replyTo [ "SINTERCARD"; "0"; "s" ])
    Assert.Equal(err "ERR numkeys should be greater than 0", replyTo [ "SINTERCARD"; "x"; "s" ])
    Assert.Equal(err "ERR Number of keys can't be greater than number of args", replyTo [ "SINTERCARD"; "2"; "s" ])
    Assert.Equal(Reply.syntaxError, replyTo [ "SINTERCARD"; "1"; "s"; "LIMIT" ])
    Assert.Equal(Reply.syntaxError, replyTo [ "SINTERCARD"; "1"; "s"; "foo" ])
    Assert.Equal(Reply.syntaxError, replyTo [ "SINTERCARD"; "1"; "missing"; "str" ])
    Assert.Equal(err "ERR LIMIT can't be negative", replyTo [ "SINTERCARD"; "1"; "s"; "LIMIT"; "-1" ])
    Assert.Equal(err "ERR LIMIT can't be negative", replyTo [ "SINTERCARD"; "1"; "s"; "limit"; "x" ])
    Assert.Equal(err "ERR invalid cursor", replyTo [ "SSCAN"; "str"; "x" ])
    Assert.Equal(err "ERR invalid cursor", replyTo [ "SSCAN"; "s"; " 1" ])
    Assert.Equal(err "ERR invalid cursor", replyTo [ "SSCAN"; "s"; "18446744073709551616" ])

[<Fact>]
let ``WRONGTYPE wherever Redis 7 gives it, missing keys counting as empty sets`` () =
    for cmd in
        [ [ "SADD"; "str"; "a" ]
          [ "SREM"; "str"; "a" ]
          [ "SMEMBERS"; "str" ]
          [ "SISMEMBER"; "str"; "a" ]
          [ "SMISMEMBER"; "str"; "a" ]
          [ "SCARD"; "str" ]
          [ "SPOP"; "str" ]
          [ "SPOP"; "str"; "0" ]
          [ "SRANDMEMBER"; "str" ]
          [ "SRANDMEMBER"; "str"; "0" ]
          [ "SMOVE"; "str"; "s"; "a" ]
          [ "SMOVE"; "s"; "str"; "a" ]
          [ "SMOVE"; "s"; "str"; "zz" ]
          [ "SINTER"; "missing"; "str" ]
          [ "SINTER"; "str"; "missing" ]
          [ "SUNION"; "missing"; "str" ]
          [ "SDIFF"; "missing"; "str" ]
          [ "SINTERCARD"; "2"; "missing"; "str" ]
          [ "SINTERSTORE"; "d"; "s"; "str" ]
          [ "SSCAN"; "str"; "0" ]
          // The options are read only once a set is found.
          [ "SSCAN"; "str"; "0"; "COUNT"; "0" ] ] do
        Assert.True((wrongType = replyTo cmd), sprintf "%A: %A" cmd (replyTo cmd))

[<Fact>]
let ``edge replies are Redis 7's`` () =
    Assert.Equal(Reply.emptyArray, replyTo [ "SMEMBERS"; "missing" ])
    Assert.Equal(Reply.Array [| int' 0; int' 0 |], replyTo [ "SMISMEMBER"; "missing"; "a"; "b" ])
    Assert.Equal(Reply.Nil, replyTo [ "SPOP"; "missing" ])
    Assert.Equal(Reply.emptyArray, replyTo [ "SPOP"; "missing"; "0" ])
    Assert.Equal(Reply.emptyArray, replyTo [ "SPOP"; "missing"; "3" ])
    Assert.Equal(Reply.emptyArray, replyTo [ "SPOP"; "s"; "0" ])
    Assert.Equal(bulks [ "a"; "b"; "c" ], replyTo [ "SPOP"; "s"; "10" ])
    Assert.Equal(Reply.Nil, replyTo [ "SRANDMEMBER"; "missing" ])
    Assert.Equal(Reply.emptyArray, replyTo [ "SRANDMEMBER"; "missing"; "3" ])
    Assert.Equal(Reply.emptyArray, replyTo [ "SRANDMEMBER"; "missing"; "-3" ])
    Assert.Equal(Reply.emptyArray, replyTo [ "SRANDMEMBER"; "s"; "0" ])
    Assert.Equal(bulks [ "a"; "b"; "c" ], replyTo [ "SRANDMEMBER"; "s"; "5" ])
    (match replyTo [ "SRANDMEMBER"; "s"; "-5" ] with
     | Reply.Array xs -> Assert.Equal(5, xs.Length)
     | other -> failwithf "%A" other)
    Assert.Equal(int' 0, replyTo [ "SMOVE"; "missing"; "str"; "a" ])
    Assert.Equal(int' 0, replyTo [ "SMOVE"; "s"; "s"; "zz" ])
    Assert.Equal(int' 1, replyTo [ "SMOVE"; "s"; "s"; "a" ])
    Assert.Equal(Reply.emptyArray, replyTo [ "SDIFF"; "missing"; "s" ])
    Assert.Equal(bulks [ "a" ], replyTo [ "SDIFF"; "s"; "missing"; "t" ])
    Assert.Equal(Reply.emptyArray, replyTo [ "SUNION"; "missing" ])
    Assert.Equal(int' 1, replyTo [ "SINTERCARD"; "1"; "s"; "LIMIT"; "1" ])
    Assert.Equal(int' 3, replyTo [ "SINTERCARD"; "1"; "s"; "LIMIT"; "0" ])
    Assert.Equal(int' 3, replyTo [ "SINTERCARD"; "1"; "s"; "LIMIT"; "1"; "LIMIT"; "5" ])
    Assert.Equal(Reply.Array [| bulk "0"; Reply.emptyArray |], replyTo [ "SSCAN"; "missing"; "0" ])
    Assert.Equal(Reply.Array [| bulk "0"; Reply.emptyArray |], replyTo [ "SSCAN"; "missing"; "0"; "foo" ])
    Assert.Equal(Reply.syntaxError, replyTo [ "SSCAN"; "s"; "0"; "COUNT"; "0" ])
    Assert.Equal(Reply.syntaxError, replyTo [ "SSCAN"; "s"; "0"; "TYPE"; "set" ])
    Assert.Equal(Reply.syntaxError, replyTo [ "SSCAN"; "s"; "0"; "MATCH" ])
    Assert.Equal(Reply.notInteger, replyTo [ "SSCAN"; "s"; "0"; "COUNT"; "x" ])
    // strtoul's reading of a cursor: empty, signed and wrapped cursors are accepted. From cursor 0 a small
    // set comes back whole; from another cursor, a part of it (redis-server 7.0.15 pages this hash-table set too).
    for cursor in [ ""; "-0" ] do
        Assert.Equal(Reply.Array [| bulk "0"; bulks [ "a"; "b"; "c" ] |], replyTo [ "SSCAN"; "s"; cursor ])

    for cursor in [ "+1"; "-1"; "18446744073709551615" ] do
        match replyTo [ "SSCAN"; "s"; cursor ] with
        | Reply.Array [| Reply.Bulk next; Reply.Array items |] ->
            Assert.True((Num.tryParseInt64 next).IsSome)
            Assert.True(items |> Array.forall (fun i -> List.contains i [ bulk "a"; bulk "b"; bulk "c" ]))
        | other -> failwithf "%A" other

[<Fact>]
let ``the STORE commands overwrite any destination, drop its TTL, and delete it for an empty result`` () =
    let setup = base' @ [ [ "SET"; "d"; "v" ]; [ "PEXPIRE"; "d"; "100000" ] ]
    let d, _ = after setup [ "SUNIONSTORE"; "d"; "s" ]
    Assert.Equal(int' 3, d.Reply)
    let ks = Evolve.replay (snd (after setup [ "PING" ])) d.Events
    let e = (Db.tryFind "d"B (Keyspace.db 0 ks)).Value
    Assert.Equal(Plain.Set(set [ "a"; "b"; "c" ]), Value.toPlain e.Value)
    Assert.Equal(Expiry.none, e.ExpireAt)
    Assert.Equal(int' 2, replyTo [ "SINTERSTORE"; "str"; "s"; "t" ])
    Assert.Equal<string list list>([ [ "DEL"; "str" ] ], logged base' [ "SINTERSTORE"; "str"; "missing"; "s" ])
    Assert.Equal<string list list>([ [ "DEL"; "s" ] ], logged base' [ "SDIFFSTORE"; "s"; "s"; "s" ])
    Assert.Equal<string list list>([], logged base' [ "SUNIONSTORE"; "nope"; "missing"; "missing" ])
    Assert.Equal<string list list>([ [ "SINTERSTORE"; "s"; "s"; "t" ] ], logged base' [ "SINTERSTORE"; "s"; "s"; "t" ])

[<Fact>]
let ``random removals are logged as the members removed, the whole set as DEL`` () =
    let one = logged base' [ "SPOP"; "s" ]

    match one with
    | [ [ "SREM"; "s"; m ] ] -> Assert.Contains(m, [ "a"; "b"; "c" ])
    | other -> failwithf "%A" other

    match logged base' [ "SPOP"; "s"; "2" ] with
    | [ "SREM" :: "s" :: ms ] -> Assert.Equal(2, (List.distinct ms).Length)
    | other -> failwithf "%A" other

    Assert.Equal<string list list>([ [ "DEL"; "s" ] ], logged base' [ "SPOP"; "s"; "3" ])
    Assert.Equal<string list list>([ [ "SMOVE"; "s"; "t"; "a" ] ], logged base' [ "SMOVE"; "s"; "t"; "a" ])
    Assert.Equal<string list list>([], logged base' [ "SMOVE"; "s"; "t"; "zz" ])
    Assert.Equal<string list list>([], logged base' [ "SADD"; "s"; "a"; "b" ])
    Assert.Equal<string list list>([], logged base' [ "SREM"; "s"; "zz" ])
    Assert.Equal<string list list>([], logged base' [ "SRANDMEMBER"; "s"; "2" ])

[<Fact>]
let ``random picks follow the seed, and every member gets picked`` () =
    let s = Champ.ofSeq [ for i in 1..40 -> Bytes.ofString (sprintf "m%d" i), () ]
    let ks = Keyspace.withDb 0 (Db.set "k"B (Entry(Value.Set s, Expiry.none)) Db.empty) (Keyspace.create 1)
    let pick (rnd: uint64) (args: string list) =
        match Command.parse (toArgs args) with
        | Ok(Request.Data c) -> (Decide.decide (ctxAt rnd) ks 0 c).Reply
        | other -> failwithf "%A" other

    for args in [ [ "SRANDMEMBER"; "k" ]; [ "SRANDMEMBER"; "k"; "5" ]; [ "SRANDMEMBER"; "k"; "30" ]; [ "SRANDMEMBER"; "k"; "-7" ]; [ "SPOP"; "k"; "3" ] ] do
        Assert.Equal(pick 99UL args, pick 99UL args)

    let seen = HashSet<string>()

    for rnd in 0UL .. 400UL do
        seen.Add(text (pick (rnd * 0x9E3779B97F4A7C15UL) [ "SRANDMEMBER"; "k" ])) |> ignore

        match pick rnd [ "SRANDMEMBER"; "k"; "3" ] with
        | Reply.Array xs -> Assert.Equal(3, (xs |> Array.map text |> Array.distinct).Length)
        | other -> failwithf "%A" other

    Assert.Equal(40, seen.Count)

[<Fact>]
let ``picks from a small set are fair`` () =
    // Redis's own suite checks SRANDMEMBER's histogram on small sets; with fixed seeds this is deterministic.
    let s = Champ.ofSeq [ for i in 1..10 -> Bytes.ofString (sprintf "m%d" i), () ]
    let ks = Keyspace.withDb 0 (Db.set "k"B (Entry(Value.Set s, Expiry.none)) Db.empty) (Keyspace.create 1)
    let counts = Dictionary<string, int>()
    let count (r: Reply) = counts[text r] <- (match counts.TryGetValue(text r) with | true, n -> n + 1 | _ -> 1)
    let decide (rnd: uint64) (args: string list) =
        match Command.parse (toArgs args) with
        | Ok(Request.Data c) -> (Decide.decide (ctxAt rnd) ks 0 c).Reply
        | other -> failwithf "%A" other

    for rnd in 1UL .. 5000UL do
        count (decide (rnd * 0x9E3779B97F4A7C15UL) [ "SRANDMEMBER"; "k" ])

    match decide 3UL [ "SRANDMEMBER"; "k"; "-5000" ] with
    | Reply.Array xs -> Array.iter count xs
    | other -> failwithf "%A" other

    Assert.Equal(10, counts.Count)

    for KeyValue(m, n) in counts do
        Assert.True(n > 850 && n < 1150, sprintf "%s drawn %d times of 10000" m n)

[<Fact>]
let ``SSCAN of a large set visits every member with cursors`` () =
    let members = [ for i in 1..1000 -> sprintf "member:%d" i ]
    let ks = Keyspace.withDb 0 (Db.set "k"B (Entry(Value.Set(Champ.ofSeq [ for m in members -> Bytes.ofString m, () ]), Expiry.none)) Db.empty) (Keyspace.create 1)
    let seen = HashSet<string>()
    let mutable cursor = "0"
    let mutable calls = 0
    let mutable go = true

    while go do
        match Command.parse (toArgs [ "SSCAN"; "k"; cursor; "COUNT"; "10" ]) with
        | Ok(Request.Data c) ->
            match (Decide.decide (ctxAt 1UL) ks 0 c).Reply with
            | Reply.Array [| next; Reply.Array items |] ->
                for i in items do
                    seen.Add(text i) |> ignore

                cursor <- text next
                calls <- calls + 1
                go <- cursor <> "0"
            | other -> failwithf "%A" other
        | other -> failwithf "%A" other

    Assert.Equal(1000, seen.Count)
    Assert.True(calls > 10, "a large set is scanned in steps")

// ---------------------------------------------------------------------------------------------------------
// DEBUG DIGEST-VALUE, as answered by redis-server 7.0.15 (--enable-debug-command yes) after FLUSHALL and
//   SADD s a b c / SADD i 1 2 3 -7 / SADD t x "" "hello world" + PEXPIREAT t 4102444800000 / SADD one m /
//   SADD big m:0 ... m:199 (one member per SADD), then DEBUG DIGEST-VALUE s i t one big and DEBUG DIGEST.

[<Fact>]
let ``set digests equal redis-server's DEBUG DIGEST-VALUE`` () =
    let setOf (ms: string list) = Value.Set(Champ.ofSeq [ for m in ms -> Bytes.ofString m, () ])

    let items =
        [ "s", setOf [ "a"; "b"; "c" ], Expiry.none, "593c2414786d75446e97f4ea5d4b731f3313da72"
          "i", setOf [ "1"; "2"; "3"; "-7" ], Expiry.none, "7c18a1ee501cbbac4570c254b09c36f4da1267c7"
          "t", setOf [ "x"; ""; "hello world" ], 4102444800000L, "b55d5553f091c2e74d5958d332b9c49974a0c9f3"
          "one", setOf [ "m" ], Expiry.none, "d9b4f839abc5a7be24b15d8e8ced8e4260ee7f0e"
          "big", setOf [ for i in 0..199 -> sprintf "m:%d" i ], Expiry.none, "5b30e9ef0653afd5eedced5163014a77c18393e5" ]

    for (_, v, at, expected) in items do
        Assert.Equal(expected, Digest.value (ValueSome(Entry(v, at))))

    let db = items |> List.fold (fun db (k, v, at, _) -> Db.set (Bytes.ofString k) (Entry(v, at)) db) Db.empty
    Assert.Equal("19609b7950f4d24c218bf4e60c341e37b8ffea2b", Digest.dataset (Keyspace.withDb 0 db Keyspace.empty))
