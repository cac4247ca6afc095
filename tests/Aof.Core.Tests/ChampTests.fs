module Aof.Core.Tests.ChampTests

open System
open System.Collections.Generic
open Xunit
open FsCheck
open FsCheck.FSharp
open Aof.Core

/// Keys engineered to share a full 32-bit `Bytes.hash`, so collision nodes get exercised.
///
/// `Bytes.hash` folds 8-byte words into a 64-bit state (seeded with the key's length) by a round that can be
/// inverted for the word: given the state before and the state wanted after, one word gets there. So a
/// piece of two words (a random one, then the solved one) takes the state anywhere, and two such pieces
/// with one target are interchangeable; three levels of two pieces give 2^3 keys of equal length with one
/// final state. Anything appended after them keeps them colliding (each suffix another family).
module Collisions =
    let private p1 = 0xC2B2AE3D27D4EB4FUL
    let private p2 = 0x9E3779B185EBCA87UL
    let private c = 0x85EBCA77C2B2AE63UL
    let private rotl (x: uint64) (r: int) = (x <<< r) ||| (x >>> (64 - r))
    let private rotr (x: uint64) (r: int) = (x >>> r) ||| (x <<< (64 - r))

    /// The multiplicative inverse of an odd number modulo 2^64 (Newton's iteration).
    let private inverse (a: uint64) =
        let mutable x = a

        for _ in 1..6 do
            x <- x * (2UL - a * x)

        x

    /// One word's round, as `Bytes.hash` does it.
    let private round (h: uint64) (w: uint64) = rotl (h ^^^ (rotl (w * p1) 31 * p2)) 27 * p2 + c

    /// The word that takes state `h` to `target`.
    let private solve (h: uint64) (target: uint64) =
        let mixed = rotr ((target - c) * inverse p2) 27 ^^^ h
        rotr (mixed * inverse p2) 31 * inverse p1

    let private word (w: uint64) =
        let b = Array.zeroCreate<byte> 8
        Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(), w)
        b

    /// Eight keys of 48 bytes that reach one state, for keys `totalLength` long (the length seeds the state).
    let private family (totalLength: int) : byte[] list =
        let rng = Random(7)
        let mutable state = 0x27D4EB2F165667C5UL ^^^ uint64 totalLength
        let mutable keys = [ [||] ]

        for _ in 1..3 do
            let target = uint64 (rng.NextInt64())

            let piece () =
                let x = uint64 (rng.NextInt64())
                Array.append (word x) (word (solve (round state x) target))

            let a, b = piece (), piece ()
            state <- target
            keys <- [ for k in keys do for p in [ a; b ] -> Array.append k p ]

        keys

    /// Eight keys with one hash, each ending in `suffix`.
    let withSuffix (suffix: string) : byte[] list =
        let s = Bytes.ofString suffix
        family (48 + s.Length) |> List.map (fun k -> Array.append k s)

/// Keys chosen to share the low 25 hash bits (five trie levels) without colliding fully.
let private deepPairs: Lazy<byte[] list> =
    lazy
        (Seq.init 40000 (fun i -> Bytes.ofString $"deep{i}")
         |> Seq.groupBy (fun k -> Bytes.hash k &&& 0x1FFFFFF)
         |> Seq.filter (fun (_, ks) -> Seq.length ks >= 2)
         |> Seq.collect snd
         |> Seq.truncate 12
         |> List.ofSeq)

/// A small alphabet (so updates overwrite and remove present keys often) mixing plain keys, keys deep in the
/// trie and three families of fully colliding keys.
let private pool: Lazy<byte[][]> =
    lazy
        (Array.concat
            [ Array.init 24 (fun i -> Bytes.ofString $"k{i}")
              Array.ofList deepPairs.Value
              Array.ofList (Collisions.withSuffix "")
              Array.ofList (Collisions.withSuffix "x")
              Array.ofList (Collisions.withSuffix "y") ])

/// More keys for SCAN, so the trie is a few levels deep.
let private widePool: Lazy<byte[][]> =
    lazy (Array.append pool.Value (Array.init 400 (fun i -> Bytes.ofString $"wide:{i}")))

type Op =
    | Add of key: int * value: int
    | Remove of key: int

let private opGen (keys: int) : Gen<Op> =
    Gen.frequency
        [ 3, Gen.map2 (fun k v -> Add(k, v)) (Gen.choose (0, keys - 1)) (Gen.choose (0, 1000))
          1, Gen.map Remove (Gen.choose (0, keys - 1)) ]

let private opsArb (keys: int) : Arbitrary<Op list> = Arb.list (Arb.fromGen (opGen keys))

let private name (k: byte[]) = Bytes.toString k

let private applyMap (keys: byte[][]) (m: ChampMap<int>) (op: Op) =
    match op with
    | Add(k, v) -> Champ.add keys[k] v m
    | Remove k -> Champ.remove keys[k] m

let private applyModel (keys: byte[][]) (model: Map<string, int>) (op: Op) =
    match op with
    | Add(k, v) -> Map.add (name keys[k]) v model
    | Remove k -> Map.remove (name keys[k]) model

let private applyTransient (keys: byte[][]) (t: ChampTransient<int>) (op: Op) =
    match op with
    | Add(k, v) -> t.Set(keys[k], v)
    | Remove k -> t.Remove keys[k]

let private build (keys: byte[][]) (ops: Op list) = List.fold (applyMap keys) Champ.empty ops

let private contents (m: ChampMap<int>) =
    Champ.toSeq m |> Seq.map (fun (k, v) -> name k, v) |> Seq.sort |> List.ofSeq

/// Fails with the reason when `m` disagrees with `model` or breaks the trie's invariants.
let private agrees (keys: byte[][]) (model: Map<string, int>) (m: ChampMap<int>) : bool =
    match Champ.invariantViolation m with
    | Some problem -> failwith problem
    | None ->
        Champ.count m = model.Count
        && Champ.isEmpty m = model.IsEmpty
        && keys
           |> Array.forall (fun k ->
               let expected = Map.tryFind (name k) model

               Champ.tryFind k m = (match expected with
                                    | Some v -> ValueSome v
                                    | None -> ValueNone)
               && Champ.containsKey k m = expected.IsSome)
        && contents m = Map.toList model
        && Champ.fold (fun n _ _ -> n + 1) 0 m = model.Count

let private law (maxTest: int) (arb: Arbitrary<'T>) (prop: 'T -> bool) =
    Check.One(Config.QuickThrowOnFailure.WithMaxTest maxTest, Prop.forAll arb prop)

[<Fact>]
let ``engineered keys collide fully and deep keys share five levels`` () =
    let family = Collisions.withSuffix "x"
    Assert.Equal(8, family |> List.distinctBy name |> List.length)
    Assert.Equal(1, family |> List.distinctBy Bytes.hash |> List.length)
    Assert.True(deepPairs.Value.Length >= 4)

[<Fact>]
let ``law: add and remove agree with a Map model after every step`` () =
    let keys = pool.Value

    law 1000 (opsArb keys.Length) (fun ops ->
        ops
        |> List.scan (fun (m, model) op -> applyMap keys m op, applyModel keys model op) (Champ.empty, Map.empty)
        |> List.forall (fun (m, model) -> agrees keys model m))

[<Fact>]
let ``law: persistence - no update changes an earlier version`` () =
    let keys = pool.Value

    law 500 (Arb.zip (opsArb keys.Length, opsArb keys.Length)) (fun (setup, edits) ->
        let start = build keys setup
        let startModel = List.fold (applyModel keys) Map.empty setup

        let versions =
            List.scan (fun (m, model) op -> applyMap keys m op, applyModel keys model op) (start, startModel) edits

        // Transient edits from the same source must not show through either.
        let t = Champ.toTransient start
        List.iter (applyTransient keys t) edits
        t.Persist() |> ignore

        versions |> List.forall (fun (m, model) -> agrees keys model m))

[<Fact>]
let ``law: a transient's edits equal the same edits done persistently`` () =
    let keys = pool.Value

    law 500 (Arb.zip (opsArb keys.Length, opsArb keys.Length)) (fun (setup, edits) ->
        let start = build keys setup
        let t = Champ.toTransient start
        let startModel = List.fold (applyModel keys) Map.empty setup

        // Edit and check the transient one step at a time, carrying the model along.
        let model, duringOk =
            edits
            |> List.fold
                (fun (model, ok) op ->
                    applyTransient keys t op
                    let model = applyModel keys model op

                    let stepOk =
                        t.Count = model.Count
                        && keys
                           |> Array.forall (fun k -> t.TryFind k = (Map.tryFind (name k) model |> ValueOption.ofOption))

                    model, ok && stepOk)
                (startModel, true)

        let persisted = t.Persist()
        let persistent = List.fold (applyMap keys) start edits

        duringOk
        && agrees keys model persisted
        && Champ.equalsBy (=) persisted persistent
        // The persisted map is a normal map: further updates leave it alone.
        && (let later = List.fold (applyMap keys) persisted edits
            ignore later
            agrees keys model persisted))

[<Fact>]
let ``law: a transient of a transient-built map does not disturb that map`` () =
    let keys = pool.Value

    law 300 (Arb.zip (opsArb keys.Length, opsArb keys.Length)) (fun (setup, edits) ->
        let first = Champ.toTransient Champ.empty
        List.iter (applyTransient keys first) setup
        let built = first.Persist()
        let model = List.fold (applyModel keys) Map.empty setup
        let second = Champ.toTransient built
        List.iter (applyTransient keys second) edits
        second.Persist() |> ignore
        agrees keys model built)

[<Fact>]
let ``a persisted transient refuses further use`` () =
    let t = Champ.toTransient Champ.empty
    t.Set(Bytes.ofString "a", 1)
    let m = t.Persist()
    Assert.Equal(1, Champ.count m)
    let key = Bytes.ofString "b"
    Assert.Throws<InvalidOperationException>(fun () -> t.Set(key, 2)) |> ignore
    Assert.Throws<InvalidOperationException>(fun () -> t.Remove key) |> ignore
    Assert.Throws<InvalidOperationException>(fun () -> t.TryFind key |> ignore) |> ignore
    Assert.Throws<InvalidOperationException>(fun () -> t.Count |> ignore) |> ignore
    Assert.Throws<InvalidOperationException>(fun () -> t.Persist() |> ignore) |> ignore
    Assert.Equal(1, Champ.count m)

[<Fact>]
let ``law: removing every key gives the empty map`` () =
    let keys = pool.Value

    law 500 (Arb.zip (opsArb keys.Length, Arb.fromGen (Gen.shuffle keys))) (fun (ops, order) ->
        let m = build keys ops
        let cleared = Array.fold (fun m k -> Champ.remove k m) m order

        Champ.isEmpty cleared
        && Champ.count cleared = 0
        && Champ.equalsBy (=) cleared Champ.empty
        && Seq.isEmpty (Champ.toSeq cleared)
        && Champ.invariantViolation cleared = None)

[<Fact>]
let ``law: adding then removing a new key restores contents and shape`` () =
    let keys = pool.Value

    law 1000 (Arb.zip (opsArb keys.Length, Arb.fromGen (Gen.choose (0, keys.Length - 1)))) (fun (ops, k) ->
        let m = build keys ops |> Champ.remove keys[k]
        let back = m |> Champ.add keys[k] 7 |> Champ.remove keys[k]
        // equalsBy compares node by node, so it fails on equal contents held in a different shape.
        Champ.equalsBy (=) back m && Champ.invariantViolation back = None && contents back = contents m)

[<Fact>]
let ``law: the shape depends on the keys only, not the order of updates`` () =
    let keys = pool.Value

    let arb =
        Arb.fromGen (
            gen {
                let! present = Gen.subListOf [ 0 .. keys.Length - 1 ]
                let! order1 = Gen.shuffle present
                let! order2 = Gen.shuffle present
                let! noise = Gen.subListOf [ 0 .. keys.Length - 1 ]
                return order1, order2, noise
            }
        )

    law 500 arb (fun (order1, order2, noise) ->
        // Second route: insert extra keys too, then take the extras back out.
        let extras = noise |> List.filter (fun k -> not (Array.contains k order2))
        let direct = order1 |> Array.fold (fun m k -> Champ.add keys[k] k m) Champ.empty
        let viaExtras = Seq.append extras order2 |> Seq.fold (fun m k -> Champ.add keys[k] k m) Champ.empty
        let detour = extras |> List.fold (fun m k -> Champ.remove keys[k] m) viaExtras
        Champ.equalsBy (=) direct detour)

[<Fact>]
let ``law: ofSeq keeps the last value for a repeated key`` () =
    let keys = pool.Value

    law 100 (opsArb keys.Length) (fun ops ->
        let pairs = ops |> List.choose (function Add(k, v) -> Some(keys[k], v) | Remove _ -> None)
        let model = pairs |> List.fold (fun m (k, v) -> Map.add (name k) v m) Map.empty
        agrees keys model (Champ.ofSeq pairs))

let private scanAll (count: int) (m: ChampMap<int>) =
    let steps = ResizeArray()
    let mutable cursor = 0UL
    let mutable go = true

    while go do
        let struct (next, items) = Champ.scan cursor count m
        steps.Add items
        cursor <- next
        go <- next <> 0UL && steps.Count <= Champ.count m + 1

    cursor, List.ofSeq steps

[<Fact>]
let ``law: a full scan of an unchanged map returns each key exactly once`` () =
    let keys = widePool.Value

    let arb =
        Arb.fromGen (Gen.zip (Gen.subListOf [ 0 .. keys.Length - 1 ]) (Gen.frequency [ 3, Gen.choose (1, 12); 1, Gen.choose (13, 500) ]))

    law 400 arb (fun (present, count) ->
        let m = present |> List.fold (fun m k -> Champ.add keys[k] k m) Champ.empty
        let cursor, steps = scanAll count m
        let seen = steps |> List.concat |> List.map (fst >> name)
        let expected = present |> List.map (fun k -> name keys[k])
        // Only a whole collision node (8 keys here) may push a step past `count`.
        let sizesOk = steps |> List.forall (fun s -> s.Length <= count + 7)
        let fullSteps = steps |> List.take (steps.Length - 1) |> List.forall (fun s -> s.Length >= count)

        cursor = 0UL
        && List.sort seen = List.sort expected
        && sizesOk
        && fullSteps)

[<Fact>]
let ``law: a scan under updates returns every key present throughout and terminates`` () =
    let keys = widePool.Value
    let opCount = keys.Length

    let arb =
        Arb.fromGen (
            gen {
                let! initial = Gen.subListOf [ 0 .. keys.Length - 1 ]
                let! count = Gen.choose (1, 20)
                let! batches = Gen.listOf (Gen.listOf (opGen opCount))
                return initial, count, batches
            }
        )

    law 400 arb (fun (initial, count, batches) ->
        let mutable m = initial |> List.fold (fun m k -> Champ.add keys[k] k m) Champ.empty
        let mutable removed = Set.empty
        let mutable everPresent = initial |> List.map (fun k -> name keys[k]) |> Set.ofList
        let mutable pending = batches
        let mutable seen = Set.empty
        let mutable cursor = 0UL
        let mutable steps = 0
        let mutable go = true

        while go do
            let struct (next, items) = Champ.scan cursor count m
            steps <- steps + 1
            seen <- items |> List.fold (fun s (k, _) -> Set.add (name k) s) seen
            cursor <- next

            match pending with
            | batch :: rest ->
                for op in batch do
                    m <- applyMap keys m op

                    match op with
                    | Remove k -> removed <- Set.add (name keys[k]) removed
                    | Add(k, _) -> everPresent <- Set.add (name keys[k]) everPresent

                pending <- rest
            | [] -> ()

            // Each step covers a disjoint stretch of trie order holding at least one key, so the walk
            // cannot take more steps than there were keys.
            go <- next <> 0UL && steps <= everPresent.Count + 1

        let throughout = initial |> List.map (fun k -> name keys[k]) |> Set.ofList |> fun s -> Set.difference s removed
        cursor = 0UL && Set.isSubset throughout seen)

[<Fact>]
let ``scan of the empty map is done at once and stray cursors end the walk`` () =
    let struct (next, items) = Champ.scan 0UL 10 Champ.empty<int>
    Assert.Equal(0UL, next)
    Assert.Empty items
    let m = Champ.empty |> Champ.add (Bytes.ofString "a") 1
    let struct (stray, none) = Champ.scan UInt64.MaxValue 10 m
    Assert.Equal(0UL, stray)
    Assert.Empty none

[<Fact>]
let ``law: trie order is a bijection on hashes`` () =
    law 500 (Arb.fromGen (Gen.choose64 (0L, int64 UInt32.MaxValue))) (fun h ->
        let h = uint32 h
        ChampTrie.hashAt (ChampTrie.trieOrder h) = h)

let private random64 (rng: Random) =
    let buf = Array.zeroCreate<byte> 8
    rng.NextBytes buf
    BitConverter.ToUInt64(buf, 0)

[<Fact>]
let ``randomEntry of the empty map is none`` () =
    Assert.True((Champ.randomEntry 12345UL Champ.empty<int>).IsNone)

[<Fact>]
let ``law: randomEntry returns a present entry and reaches every entry of a small map`` () =
    let keys = pool.Value

    law 100 (Arb.zip (opsArb keys.Length, Arb.fromGen (Gen.choose (0, Int32.MaxValue)))) (fun (ops, seed) ->
        let m = build keys ops
        let rng = Random seed
        let seen = HashSet<string>()

        let allPresent =
            Seq.init 50000 (fun _ -> Champ.randomEntry (random64 rng) m)
            |> Seq.forall (fun drawn ->
                match drawn with
                | ValueNone -> Champ.isEmpty m
                | ValueSome(k, v) ->
                    seen.Add(name k) |> ignore
                    Champ.tryFind k m = ValueSome v)

        allPresent && seen.Count = Champ.count m)

[<Fact>]
let ``a large map built persistently and by a transient agrees with a Dictionary`` () =
    let n = 50000
    let keys = Array.init n (fun i -> Bytes.ofString $"key:{i:D9}")
    let persistent = keys |> Array.fold (fun m k -> Champ.add k k.Length m) Champ.empty
    let t = Champ.toTransient Champ.empty

    for k in keys do
        t.Set(k, k.Length)

    let built = t.Persist()
    Assert.Equal(n, Champ.count persistent)
    Assert.True(Champ.equalsBy (=) persistent built)
    Assert.Equal(None, Champ.invariantViolation built)

    // Remove the even keys through a transient of the persistent map, which must stay whole.
    let edit = Champ.toTransient persistent

    for i in 0..2..n - 1 do
        edit.Remove keys[i]

    let odd = edit.Persist()
    let dict = Dictionary<byte[], int>(BytesComparer.Instance)

    for i in 1..2..n - 1 do
        dict[keys[i]] <- keys[i].Length

    Assert.Equal(dict.Count, Champ.count odd)
    Assert.Equal(None, Champ.invariantViolation odd)
    Assert.True(keys |> Array.forall (fun k -> Champ.tryFind k persistent = ValueSome k.Length))

    Assert.True(
        keys
        |> Array.forall (fun k ->
            match dict.TryGetValue k with
            | true, v -> Champ.tryFind k odd = ValueSome v
            | _ -> Champ.tryFind k odd = ValueNone)
    )

    let visited = HashSet<string>()
    Champ.iter (fun k v -> if dict[k] = v then visited.Add(name k) |> ignore) odd
    Assert.Equal(dict.Count, visited.Count)

/// One update of a merged run: `Put` sets the key, `Bump` adds to it only when it is present (as PEXPIREAT
/// changes only a key that exists).
type RunStep =
    | Put of key: int * value: int
    | Bump of key: int * by: int

let private runStepGen (keys: int) : Gen<RunStep> =
    Gen.frequency
        [ 3, Gen.map2 (fun k v -> Put(k, v)) (Gen.choose (0, keys - 1)) (Gen.choose (0, 1000))
          1, Gen.map2 (fun k b -> Bump(k, b)) (Gen.choose (0, keys - 1)) (Gen.choose (1, 9)) ]

let private stepKey (s: RunStep) =
    match s with
    | Put(k, _)
    | Bump(k, _) -> k

let private stepOnModel (keys: byte[][]) (model: Map<string, int>) (s: RunStep) =
    match s with
    | Put(k, v) -> Map.add (name keys[k]) v model
    | Bump(k, by) ->
        match Map.tryFind (name keys[k]) model with
        | Some v -> Map.add (name keys[k]) (v + by) model
        | None -> model

/// Merges `steps` into a transient of `start` in one run, sorted as MergeRun wants (trie order, and log order
/// for one key), and persists it.
let private mergeRun (keys: byte[][]) (start: ChampMap<int>) (steps: RunStep list) : ChampMap<int> =
    let sorted =
        steps
        |> List.mapi (fun i s -> i, s)
        |> List.sortBy (fun (i, s) -> Champ.trieOrder (uint32 (Bytes.hash keys[stepKey s])), i)
        |> List.map snd
        |> Array.ofList

    let t = Champ.toTransient start
    let hashes = sorted |> Array.map (fun s -> uint32 (Bytes.hash keys[stepKey s]))
    let runKeys = sorted |> Array.map (fun s -> keys[stepKey s])

    t.MergeRun(
        hashes,
        runKeys,
        sorted.Length,
        fun current i ->
            match sorted[i], current with
            | Put(_, v), _ -> ValueSome v
            | Bump(_, by), ValueSome v -> ValueSome(v + by)
            | Bump _, ValueNone -> ValueNone
    )

    t.Persist()

[<Fact>]
let ``law: merging a run equals applying its updates one at a time, in canonical form`` () =
    for keys in [ pool.Value; widePool.Value ] do
        let stepsArb = Arb.list (Arb.fromGen (runStepGen keys.Length))

        law 400 (Arb.zip (opsArb keys.Length, stepsArb)) (fun (setup, steps) ->
            let start = build keys setup
            let startModel = List.fold (applyModel keys) Map.empty setup
            let merged = mergeRun keys start steps
            let model = List.fold (stepOnModel keys) startModel steps
            // The same updates through ordinary inserts: canonical form makes equal key sets equal tries.
            let oneByOne =
                steps
                |> List.fold
                    (fun m s ->
                        match s with
                        | Put(k, v) -> Champ.add keys[k] v m
                        | Bump(k, by) ->
                            match Champ.tryFind keys[k] m with
                            | ValueSome v -> Champ.add keys[k] (v + by) m
                            | ValueNone -> m)
                    start

            agrees keys model merged
            && Champ.equalsBy (=) merged oneByOne
            // The map the run was merged into is untouched.
            && agrees keys startModel start)

[<Fact>]
let ``a merged run that leaves the map its transient edits keeps working in place`` () =
    // After a merge the transient goes on with ordinary edits (a loader alternates runs and other facts).
    let keys = widePool.Value
    let t = Champ.toTransient Champ.empty
    let steps = [ for k in 0 .. keys.Length - 1 -> Put(k, k) ]
    let sorted = steps |> List.sortBy (fun s -> Champ.trieOrder (uint32 (Bytes.hash keys[stepKey s]))) |> Array.ofList
    t.MergeRun(Array.map (fun s -> uint32 (Bytes.hash keys[stepKey s])) sorted, Array.map (fun s -> keys[stepKey s]) sorted, sorted.Length, fun _ i -> ValueSome(match sorted[i] with Put(k, _) -> k | Bump(k, _) -> k))
    Assert.Equal(keys.Length, t.Count)

    for k in 0..2 .. keys.Length - 1 do
        t.Remove keys[k]

    let m = t.Persist()
    let model = Map.ofList [ for k in 1..2 .. keys.Length - 1 -> name keys[k], k ]
    Assert.True(agrees keys model m)
