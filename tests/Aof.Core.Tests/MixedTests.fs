/// The rewrite and replay properties over every value type at once: strings, lists, hashes, sets and sorted
/// sets, with TTLs, several databases, renames, copies and moves between them, and collections big enough
/// to need several commands of at most 64 elements each.
module Aof.Core.Tests.MixedTests

open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Aof.Core
open Aof.Core.Tests.DecideTests
open Aof.Core.Tests.Replay

let private config = Config.QuickThrowOnFailure.WithMaxTest(1000)

let private genKey = Gen.elements [ "a"; "b"; "c"; "d"; "e" ]
let private genMember = Gen.elements [ "m1"; "m2"; "m3"; "x"; "10"; "-2.5"; "" ]
let private genScore = Gen.elements [ "0"; "1"; "-1"; "2.5"; "1e10"; "-inf"; "+inf"; "0.1" ]
let private genTtl = Gen.choose (1, 4000) |> Gen.map string
let private genDb = Gen.choose (0, databases - 1) |> Gen.map string

/// Many distinct elements at once, so collections outgrow one rewrite command (64 elements).
let private genMany (prefix: string) =
    Gen.choose (1, 150) |> Gen.map (fun n -> [ for i in 1..n -> sprintf "%s%d" prefix i ])

let private genArgs: Gen<string list> =
    let k = genKey

    Gen.frequency
        [ 3, Gen.map2 (fun k v -> [ "SET"; k; v ]) k genMember
          2, Gen.map (fun k -> [ "INCR"; k ]) k
          3, Gen.map2 (fun k ms -> "RPUSH" :: k :: ms) k (Gen.listOfLength 3 genMember)
          2, Gen.map2 (fun k ms -> "LPUSH" :: k :: ms) k (genMany "l")
          2, Gen.map (fun k -> [ "LPOP"; k ]) k
          1, Gen.map2 (fun k n -> [ "RPOP"; k; n ]) k (Gen.choose (1, 70) |> Gen.map string)
          3, Gen.map3 (fun k f v -> [ "HSET"; k; f; v ]) k genMember genMember
          2, Gen.map2 (fun k fs -> "HSET" :: k :: (fs |> List.collect (fun f -> [ f; f + "v" ]))) k (genMany "f")
          2, Gen.map2 (fun k f -> [ "HDEL"; k; f ]) k genMember
          1, Gen.map3 (fun k f n -> [ "HINCRBYFLOAT"; k; f; n ]) k genMember (Gen.elements [ "0.1"; "3"; "-1.5" ])
          3, Gen.map2 (fun k ms -> "SADD" :: k :: ms) k (Gen.listOfLength 2 genMember)
          2, Gen.map2 (fun k ms -> "SADD" :: k :: ms) k (genMany "s")
          2, Gen.map2 (fun k m -> [ "SREM"; k; m ]) k genMember
          1, Gen.map2 (fun k n -> [ "SPOP"; k; n ]) k (Gen.choose (1, 5) |> Gen.map string)
          3, Gen.map3 (fun k s m -> [ "ZADD"; k; s; m ]) k genScore genMember
          2, Gen.map2 (fun k ms -> "ZADD" :: k :: (ms |> List.mapi (fun i m -> [ string i; m ]) |> List.concat)) k (genMany "z")
          2, Gen.map3 (fun k s m -> [ "ZINCRBY"; k; s; m ]) k (Gen.elements [ "1"; "0.5"; "-2" ]) genMember
          1, Gen.map2 (fun k m -> [ "ZREM"; k; m ]) k genMember
          1, Gen.map2 (fun k n -> [ "ZPOPMIN"; k; n ]) k (Gen.choose (1, 3) |> Gen.map string)
          2, Gen.map2 (fun k t -> [ "PEXPIRE"; k; t ]) k genTtl
          1, Gen.map (fun k -> [ "PERSIST"; k ]) k
          1, Gen.map2 (fun a b -> [ "RENAME"; a; b ]) k k
          1, Gen.map3 (fun a b d -> [ "COPY"; a; b; "DB"; d ]) k k genDb
          1, Gen.map2 (fun k d -> [ "MOVE"; k; d ]) k genDb
          1, Gen.map2 (fun a b -> [ "DEL"; a; b ]) k k
          2, Gen.map (fun d -> [ "SELECT"; d ]) genDb
          1, Gen.map2 (fun a b -> [ "SWAPDB"; a; b ]) genDb genDb ]

let private genMixed =
    Gen.listOf (Gen.map2 (fun adv args -> { Advance = int64 adv; Args = args }) (Gen.frequency [ 3, Gen.constant 0; 1, Gen.choose (1, 1500) ]) genArgs)

let private check prop =
    Check.One(config, Prop.forAll (Arb.fromGen genMixed) prop)

let private empty () = Keyspace.create databases

[<Fact>]
let ``the live events, through the file format, replay to the live state (every type)`` () =
    check (fun steps ->
        let run = runReal steps
        Keyspace.toMap (Evolve.replay (empty ()) (parse (serialize run.Events))) = Keyspace.toMap run.Final)

[<Fact>]
let ``replay of rewrite equals replay (every type)`` () =
    check (fun steps ->
        let run = runReal steps
        alive run.Now (Evolve.replay (empty ()) (Rewrite.project run.Now run.Final)) = alive run.Now run.Final)

[<Fact>]
let ``rewrite is idempotent through the file format (every type)`` () =
    check (fun steps ->
        let run = runReal steps
        let first = Evolve.replay (empty ()) (parse (serialize (Rewrite.project run.Now run.Final)))
        let second = Evolve.replay (empty ()) (parse (serialize (Rewrite.project run.Now first)))
        Keyspace.toMap first = Keyspace.toMap second && alive run.Now first = alive run.Now run.Final)

[<Fact>]
let ``every rewrite command carries at most 64 elements`` () =
    check (fun steps ->
        let run = runReal steps

        Rewrite.project run.Now run.Final
        |> Seq.forall (fun e ->
            let args = Event.toArgs e.Op
            let elements = args.Length - 2 // the command's name and key

            match e.Op with
            | Op.Hashes _
            | Op.SortedSets _ -> elements <= 128 // pairs: field value / score member
            | _ -> elements <= 64))

/// `part` holds nothing `whole` does not: a prefix of a list (the rewrite rebuilds it front to back), a part
/// of a hash, a set or a sorted set.
let private isPart (part: Plain) (whole: Plain) =
    match part, whole with
    | Plain.Str a, Plain.Str b -> a = b
    | Plain.List a, Plain.List b -> a.Length <= b.Length && List.truncate a.Length b = a
    | Plain.Hash a, Plain.Hash b -> a |> Map.forall (fun f v -> Map.tryFind f b = Some v)
    | Plain.Set a, Plain.Set b -> Set.isSubset a b
    | Plain.ZSet a, Plain.ZSet b -> Set.isSubset (Set.ofList a) (Set.ofList b)
    | _ -> false

[<Fact>]
let ``a rewritten base cut at any command boundary yields a part of the original (every type)`` () =
    check (fun steps ->
        let run = runReal steps
        let original = alive run.Now run.Final
        let events = Rewrite.project run.Now run.Final |> List.ofSeq

        [ 0 .. events.Length ]
        |> List.forall (fun cut ->
            alive run.Now (Evolve.replay (empty ()) (List.truncate cut events))
            |> Map.forall (fun db keys ->
                keys
                |> Map.forall (fun k (v, at) ->
                    match original |> Map.tryFind db |> Option.bind (Map.tryFind k) with
                    // A cut before a key's PEXPIREAT leaves it without its TTL yet; no TTL is invented.
                    | Some(v0, at0) -> isPart v v0 && (at = at0 || at = Expiry.none)
                    | None -> false))))

[<Fact>]
let ``bulk replay equals replay (every type)`` () =
    check (fun steps ->
        let run = runReal steps
        let events = Rewrite.project run.Now run.Final |> List.ofSeq
        Keyspace.toMap (Evolve.replayBulk (empty ()) (run.Events @ events)) = Keyspace.toMap (Evolve.replay (empty ()) (run.Events @ events)))

/// runReal as the executor runs it: the keyspace edited in place by an owner (owned again after each step,
/// as the executor does after FLUSHALL or SWAPDB made fresh databases). After `freezeAt` steps a frozen copy
/// is taken and the owner replaced, as for a rewrite's snapshot; returned with its picture at that moment.
let private runOwned (steps: Step list) (freezeAt: int) : Run * Keyspace * Map<int, Map<string, Plain * int64>> =
    let mutable owner = ChampOwner(false)
    let mutable ks = Keyspace.own owner (Keyspace.create databases)
    let mutable db = 0
    let mutable now = start
    let mutable frozen = Keyspace.create databases
    let mutable frozenPicture = Map.empty
    let events = ResizeArray()
    let replies = ResizeArray()

    steps
    |> List.iteri (fun i st ->
        if i = freezeAt then
            frozen <- Keyspace.frozen ks
            frozenPicture <- Keyspace.toMap frozen
            owner <- ChampOwner(false)

        ks <- Keyspace.own owner ks
        now <- now + st.Advance

        match Command.parse (st.Args |> List.map Bytes.ofString |> List.toArray) with
        | Ok(Request.Control(Control.Select d)) ->
            db <- d
            replies.Add Reply.ok
        | Ok(Request.Data cmd) ->
            let ctx = { Now = now; NowMicros = now * 1000L; Random = 42UL; MaxBulkLen = 512L * 1024L * 1024L }
            let struct (next, d) = Decide.step ctx ks db cmd
            ks <- next
            events.AddRange d.Events
            replies.Add d.Reply
        | Ok(Request.Control c) -> failwithf "unexpected control %A" c
        | Error r -> replies.Add r)

    { Replies = List.ofSeq replies; Final = ks; Events = List.ofSeq events; Now = now }, frozen, frozenPicture

[<Fact>]
let ``edited in place by its owner, a keyspace replies and ends as the persistent one; a frozen copy never changes`` () =
    check (fun steps ->
        let plain = runReal steps
        let owned, frozen, frozenPicture = runOwned steps (List.length steps / 2)

        // The counts too: a map edited in place behind an older wrapper would keep the wrapper's count.
        let counts (ks: Keyspace) =
            [ for db in ks.Dbs -> Db.size db, Champ.count db.Expires, Seq.length (Champ.toSeq db.Keys) ]

        owned.Replies = plain.Replies
        && owned.Events = plain.Events
        && Keyspace.toMap owned.Final = Keyspace.toMap plain.Final
        && counts owned.Final = counts plain.Final
        && Keyspace.toMap frozen = frozenPicture)

[<Fact>]
let ``the active expiry cycle only reports what an owned keyspace should delete, it does not delete it`` () =
    let owner = ChampOwner(false)
    let mutable ks = Keyspace.own owner (Keyspace.create databases)

    for i in 0..199 do
        let at = if i % 2 = 0 then 10L else Expiry.none
        ks <- Evolve.apply ks { Db = i % 3; Op = Op.Set(Bytes.ofString (string i), "v"B, TtlChange.At at) }
        ks <- Keyspace.own owner ks

    let before = Keyspace.toMap ks
    let sizes (ks: Keyspace) = [ for db in ks.Dbs -> Db.size db, Champ.count db.Expires ]
    let sizesBefore = sizes ks
    let evs = Expire.activeCycle 1000L 7UL 100 ks
    Assert.NotEmpty evs
    Assert.Equal<Map<int, Map<string, Plain * int64>>>(before, Keyspace.toMap ks)
    Assert.Equal<(int * int) list>(sizesBefore, sizes ks)

[<Fact>]
let ``the generated sessions do build every type`` () =
    // Guards the properties above against passing vacuously (a generator that never makes a collection).
    let steps =
        [ for args in
              [ [ "RPUSH"; "l"; "a"; "b" ]; [ "HSET"; "h"; "f"; "v" ]; [ "SADD"; "s"; "m" ]; [ "ZADD"; "z"; "1"; "m" ]
                [ "SET"; "k"; "v" ] ] -> { Advance = 0L; Args = args } ]

    let types =
        (runReal steps).Final.Dbs[0].Keys
        |> Champ.toSeq
        |> Seq.map (fun (_, e: Entry) -> Value.typeName e.Value)
        |> Set.ofSeq

    Assert.Equal<Set<string>>(set [ "string"; "list"; "hash"; "set"; "zset" ], types)
