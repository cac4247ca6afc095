/// The loader's fold against plain replay, with runs long enough that BulkFold merges them into the trie in
/// one walk (a batch of 64 single-key facts or more) as well as short ones it applies in place.
module Aof.Core.Tests.BulkFoldTests

open Xunit
open FsCheck
open FsCheck.FSharp
open Aof.Core

let private databases = 3

/// Plain keys, so that one key gets many facts in a run, and a family of keys sharing one full hash.
let private keys: byte[][] =
    Array.append (Array.init 60 (fun i -> Bytes.ofString $"key:{i}")) (Array.ofList (ChampTests.Collisions.withSuffix "b"))

let private genKey = Gen.elements keys
let private genAt = Gen.choose (1, 5000) |> Gen.map int64

let private genElems = Gen.choose (1, 3) |> Gen.bind (fun n -> Gen.arrayOfLength n (Gen.elements [ "a"B; "b"B; "c"B; "d"B ]))

/// Additions to a collection: pushes at either end, HSET, SADD.
let private genAddition (key: byte[]) : Gen<Op> =
    Gen.oneof
        [ Gen.map2 (fun vs left -> Op.Lists(ListOp.Push(key, vs, left, false))) genElems (Gen.elements [ true; false ])
          Gen.map (fun fs -> Op.Hashes(HashOp.HSet(key, fs |> Array.map (fun f -> f, Bytes.ofString $"v{f.Length}")))) genElems
          Gen.map (fun ms -> Op.Sets(SetOp.Add(key, ms))) genElems ]

/// Facts BulkFold batches: SET with or without a TTL, PEXPIREAT, and additions to collections, alone or
/// several to one key in a row (as a rewritten base writes a long list or a large hash).
let private genBatched: Gen<Op list> =
    Gen.frequency
        [ 5, Gen.map2 (fun k v -> [ Op.Set(k, Bytes.ofString (string v), TtlChange.Clear) ]) genKey (Gen.choose (0, 99))
          2, Gen.map3 (fun k v at -> [ Op.Set(k, Bytes.ofString (string v), TtlChange.At at) ]) genKey (Gen.choose (0, 99)) genAt
          2, Gen.map2 (fun k at -> [ Op.PExpireAt(k, at) ]) genKey genAt
          3, genKey |> Gen.bind genAddition |> Gen.map List.singleton
          2, genKey |> Gen.bind (fun k -> Gen.choose (2, 5) |> Gen.bind (fun n -> Gen.listOfLength n (genAddition k))) ]

/// Facts that end a batch.
let private genOther: Gen<Op> =
    Gen.oneof
        [ Gen.map (fun k -> Op.Del [| k |]) genKey
          Gen.map (fun k -> Op.Set(k, "kept"B, TtlChange.Keep)) genKey
          Gen.map Op.Persist genKey
          Gen.map (fun k -> Op.Lists(ListOp.Pop(k, 2L, true))) genKey
          Gen.map (fun k -> Op.Hashes(HashOp.HDel(k, [| "a"B; "b"B |]))) genKey
          Gen.map (fun k -> Op.Sets(SetOp.Rem(k, [| "a"B; "c"B |]))) genKey ]

/// Stretches in one database: long runs of batched facts (up to a few hundred, so most are merged) and
/// short mixed ones.
let private genLog: Gen<Event list> =
    let ops =
        Gen.oneof
            [ Gen.listOf genBatched |> Gen.resize 200 |> Gen.map List.concat
              Gen.listOf (Gen.frequency [ 3, genBatched; 1, Gen.map List.singleton genOther ]) |> Gen.resize 20 |> Gen.map List.concat ]

    let stretch = Gen.map2 (fun db ops -> [ for op in ops -> { Db = db; Op = op } ]) (Gen.choose (0, databases - 1)) ops
    Gen.listOf stretch |> Gen.resize 8 |> Gen.map List.concat

/// Each database's keys and its index of keys with a TTL.
let private picture (ks: Keyspace) =
    Keyspace.toMap ks,
    [ for db in 0 .. databases - 1 ->
          Champ.toSeq (Keyspace.db db ks).Expires |> Seq.map (fun (k, at) -> Bytes.toString k, at) |> Seq.sort |> List.ofSeq ]

[<Fact>]
let ``bulk replay equals replay over long runs of SET, PEXPIREAT and additions, TTL index included`` () =
    Check.One(
        Config.QuickThrowOnFailure.WithMaxTest 300,
        Prop.forAll (Arb.fromGen genLog) (fun log ->
            picture (Evolve.replayBulk (Keyspace.create databases) log) = picture (Evolve.replay (Keyspace.create databases) log))
    )

[<Fact>]
let ``bulk replay onto a loaded state leaves that state alone`` () =
    Check.One(
        Config.QuickThrowOnFailure.WithMaxTest 100,
        Prop.forAll (Arb.zip (Arb.fromGen genLog, Arb.fromGen genLog)) (fun (first, second) ->
            let loaded = Evolve.replayBulk (Keyspace.create databases) first
            let before = picture loaded
            let after = Evolve.replayBulk loaded second
            picture loaded = before && picture after = picture (Evolve.replay (Keyspace.create databases) (first @ second)))
    )

/// A plain SET as an AOF holds it, in a few spellings, and other commands near it.
let private genCommand: Gen<byte[]> =
    let bulk (s: string) = $"${s.Length}\r\n{s}\r\n"
    let command (args: string list) = Bytes.ofString ($"*{args.Length}\r\n" + String.concat "" (List.map bulk args))

    Gen.oneof
        [ Gen.map3 (fun name k v -> command [ name; k; v ]) (Gen.elements [ "SET"; "set"; "SeT" ]) (Gen.elements [ "k"; ""; "key:000000012345" ]) (Gen.elements [ "v"; ""; "xxx"; String.replicate 70 "y" ])
          Gen.constant (command [ "SET"; "k"; "v"; "PXAT"; "5" ])
          Gen.constant (command [ "SETNX"; "k"; "v" ])
          Gen.constant (command [ "GET"; "k" ]) ]

/// The command, cut short or with one byte changed.
let private genDamaged: Gen<byte[]> =
    gen {
        let! command = genCommand
        let! cut = Gen.choose (0, command.Length)
        let! at = Gen.choose (0, command.Length - 1)
        let! b = Gen.elements [ 0uy; '\r'B; '\n'B; '$'B; '*'B; '3'B; '9'B; 'S'B; 'x'B ]
        let! how = Gen.choose (0, 2)

        return
            match how with
            | 0 -> command
            | 1 -> Array.sub command 0 cut
            | _ -> Array.updateAt at b command
    }

[<Fact>]
let ``TryReadSet reads a command only when TryRead reads the same plain SET from it`` () =
    Check.One(
        Config.QuickThrowOnFailure.WithMaxTest 3000,
        Prop.forAll (Arb.fromGen genDamaged) (fun bytes ->
            let mutable setConsumed = 0
            let mutable key: byte[] = null
            let mutable value: byte[] = null
            let mutable consumed = 0
            let mutable args: byte[][] = null
            let mutable error: string = null
            let fast = AofReader.TryReadSet(System.ReadOnlySpan bytes, &setConsumed, &key, &value)
            let status = AofReader.TryRead(System.ReadOnlySpan bytes, &consumed, &args, &error)

            not fast
            || (status = AofRead.Command
                && setConsumed = consumed
                && args.Length = 3
                && Bytes.eqLower "set" args[0]
                && args[1] = key
                && args[2] = value))
    )

[<Fact>]
let ``TryReadSet reads a whole plain SET in any case of its name`` () =
    for name in [ "SET"; "set"; "sEt" ] do
        let bytes = Bytes.ofString $"*3\r\n$3\r\n{name}\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*1\r\n"
        let mutable consumed = 0
        let mutable key: byte[] = null
        let mutable value: byte[] = null
        Assert.True(AofReader.TryReadSet(System.ReadOnlySpan bytes, &consumed, &key, &value))
        Assert.Equal(bytes.Length - 4, consumed)
        Assert.Equal<byte[]>("key"B, key)
        Assert.Equal<byte[]>("value"B, value)

[<Fact>]
let ``bulk replay of more facts than one batch holds keeps the last write of every key`` () =
    // A batch holds 2^20 facts: this log fills one, merges it, and goes on into a second. Each key's value is
    // the index of its last SET, and every third key gets a TTL from a PEXPIREAT that the next SET clears.
    // Keys written only at the start live in the first batch alone.
    let distinct = 50_000
    let total = (1 <<< 20) + 100_000
    let key i = Bytes.ofString $"k:{i % distinct}"

    let log =
        seq {
            for i in 0..999 do
                yield { Db = 0; Op = Op.Set(Bytes.ofString $"early:{i}", "e"B, TtlChange.Clear) }

            for i in 0 .. total - 1 do
                yield { Db = 0; Op = Op.Set(key i, Bytes.ofString (string i), TtlChange.Clear) }

                if i % 3 = 0 then
                    yield { Db = 0; Op = Op.PExpireAt(key i, int64 i) }
        }

    let ks = Evolve.replayBulk (Keyspace.create 1) log
    let db = Keyspace.db 0 ks
    Assert.Equal(distinct + 1000, Champ.count db.Keys)

    for i in 0..999 do
        Assert.Equal(ValueSome "e"B, Champ.tryFind (Bytes.ofString $"early:{i}") db.Keys |> ValueOption.bind (fun e -> Value.bytes e.Value))

    for k in 0 .. distinct - 1 do
        let last = (total - 1 - k) / distinct * distinct + k
        let ttl = if last % 3 = 0 then int64 last else Expiry.none

        match Champ.tryFind (Bytes.ofString $"k:{k}") db.Keys with
        | ValueSome e ->
            Assert.Equal(string last, Bytes.toString (Value.bytes e.Value).Value)
            Assert.Equal(ttl, e.ExpireAt)
            Assert.Equal((ttl <> Expiry.none), (Champ.tryFind (Bytes.ofString $"k:{k}") db.Expires).IsSome)
        | ValueNone -> failwithf "k:%d is missing" k
