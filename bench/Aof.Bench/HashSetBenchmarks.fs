namespace Aof.Bench

open System.Collections.Generic
open BenchmarkDotNet.Attributes
open BenchmarkDotNet.Configs
open Aof.Core

/// The CHAMP map as a hash's field table (field -> value, `Value.Hash`) and as a set's member table
/// (member -> unit, `Value.Set`), against the mutable BCL tables Redis's dict corresponds to:
/// `Dictionary<byte[], byte[]>` and `HashSet<byte[]>` with a byte-content comparer. One million
/// `field:000000123`-style elements per operation: insert (persistent, one new map per element as HSET and
/// SADD make; transient, as loading and rewriting do), lookup, removal and a full iteration.
///
/// The BCL tables are the floor: they mutate in place and cannot share a snapshot with a rewrite. The
/// question is what persistence costs per operation.
///
/// Not sealed: BenchmarkDotNet derives its generated runner from the benchmark class.
[<MemoryDiagnoser>]
[<SimpleJob(launchCount = 1, warmupCount = 1, iterationCount = 3)>]
// One run of a million operations per iteration: a removal needs its table refilled before every run.
[<InvocationCount(1, 1)>]
[<GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)>]
[<CategoriesColumn>]
type HashSetBenchmarks() =
    let n = 1_000_000
    let mutable fields: byte[][] = [||]
    // Same contents, other arrays: lookups must compare bytes, not hit the reference-equality shortcut.
    let mutable probes: byte[][] = [||]
    let mutable values: byte[][] = [||]
    let mutable hash = Champ.empty<byte[]>
    let mutable set = Champ.empty<unit>
    let mutable dictionary = Dictionary<byte[], byte[]>(BytesComparer.Instance)
    let mutable hashSet = HashSet<byte[]>(BytesComparer.Instance)

    let makeFields () = Array.init n (fun i -> Bytes.ofString $"field:{i:D9}")

    let fillDictionary () =
        let d = Dictionary<byte[], byte[]>(BytesComparer.Instance)

        for i in 0 .. n - 1 do
            d[fields[i]] <- values[i]

        d

    let fillHashSet () =
        let s = HashSet<byte[]>(BytesComparer.Instance)

        for i in 0 .. n - 1 do
            s.Add fields[i] |> ignore

        s

    [<GlobalSetup>]
    member _.Setup() =
        fields <- makeFields ()
        probes <- makeFields ()
        values <- Array.init n (fun i -> Bytes.ofString $"value-{i}")
        let h = Champ.toTransient Champ.empty
        let s = Champ.toTransient Champ.empty

        for i in 0 .. n - 1 do
            h.Set(fields[i], values[i])
            s.Set(fields[i], ())

        hash <- h.Persist()
        set <- s.Persist()
        dictionary <- fillDictionary ()
        hashSet <- fillHashSet ()

    /// The mutable tables are emptied by a removal run: each run starts from a full one.
    [<IterationSetup(Targets = [| "HashDictionaryRemove"; "SetHashSetRemove" |])>]
    member _.Refill() =
        dictionary <- fillDictionary ()
        hashSet <- fillHashSet ()

    // ---- hash: field -> value

    [<Benchmark(Baseline = true); BenchmarkCategory("HashInsert1M")>]
    member _.HashDictionaryInsert() = (fillDictionary ()).Count

    [<Benchmark; BenchmarkCategory("HashInsert1M")>]
    member _.HashChampPersistentInsert() =
        let mutable m = Champ.empty

        for i in 0 .. n - 1 do
            m <- Champ.add fields[i] values[i] m

        Champ.count m

    [<Benchmark; BenchmarkCategory("HashInsert1M")>]
    member _.HashChampTransientInsert() =
        let t = Champ.toTransient Champ.empty

        for i in 0 .. n - 1 do
            t.Set(fields[i], values[i])

        Champ.count (t.Persist())

    [<Benchmark(Baseline = true); BenchmarkCategory("HashLookup1M")>]
    member _.HashDictionaryLookup() =
        let mutable total = 0L

        for i in 0 .. n - 1 do
            match dictionary.TryGetValue probes[i] with
            | true, v -> total <- total + int64 v.Length
            | _ -> ()

        total

    [<Benchmark; BenchmarkCategory("HashLookup1M")>]
    member _.HashChampLookup() =
        let mutable total = 0L

        for i in 0 .. n - 1 do
            match Champ.tryFind probes[i] hash with
            | ValueSome v -> total <- total + int64 v.Length
            | ValueNone -> ()

        total

    [<Benchmark(Baseline = true); BenchmarkCategory("HashRemove1M")>]
    member _.HashDictionaryRemove() =
        for i in 0 .. n - 1 do
            dictionary.Remove probes[i] |> ignore

        dictionary.Count

    [<Benchmark; BenchmarkCategory("HashRemove1M")>]
    member _.HashChampPersistentRemove() =
        let mutable m = hash

        for i in 0 .. n - 1 do
            m <- Champ.remove probes[i] m

        Champ.count m

    [<Benchmark; BenchmarkCategory("HashRemove1M")>]
    member _.HashChampTransientRemove() =
        let t = Champ.toTransient hash

        for i in 0 .. n - 1 do
            t.Remove probes[i]

        Champ.count (t.Persist())

    [<Benchmark(Baseline = true); BenchmarkCategory("HashIterate1M")>]
    member _.HashDictionaryIterate() =
        let mutable total = 0L

        for kv in dictionary do
            total <- total + int64 kv.Key.Length + int64 kv.Value.Length

        total

    [<Benchmark; BenchmarkCategory("HashIterate1M")>]
    member _.HashChampIterate() =
        Champ.fold (fun (total: int64) (f: byte[]) (v: byte[]) -> total + int64 f.Length + int64 v.Length) 0L hash

    // ---- set: member -> unit

    [<Benchmark(Baseline = true); BenchmarkCategory("SetInsert1M")>]
    member _.SetHashSetInsert() = (fillHashSet ()).Count

    [<Benchmark; BenchmarkCategory("SetInsert1M")>]
    member _.SetChampPersistentInsert() =
        let mutable m = Champ.empty

        for i in 0 .. n - 1 do
            m <- Champ.add fields[i] () m

        Champ.count m

    [<Benchmark; BenchmarkCategory("SetInsert1M")>]
    member _.SetChampTransientInsert() =
        let t = Champ.toTransient Champ.empty

        for i in 0 .. n - 1 do
            t.Set(fields[i], ())

        Champ.count (t.Persist())

    [<Benchmark(Baseline = true); BenchmarkCategory("SetLookup1M")>]
    member _.SetHashSetLookup() =
        let mutable found = 0

        for i in 0 .. n - 1 do
            if hashSet.Contains probes[i] then found <- found + 1

        found

    [<Benchmark; BenchmarkCategory("SetLookup1M")>]
    member _.SetChampLookup() =
        let mutable found = 0

        for i in 0 .. n - 1 do
            if Champ.containsKey probes[i] set then found <- found + 1

        found

    [<Benchmark(Baseline = true); BenchmarkCategory("SetRemove1M")>]
    member _.SetHashSetRemove() =
        for i in 0 .. n - 1 do
            hashSet.Remove probes[i] |> ignore

        hashSet.Count

    [<Benchmark; BenchmarkCategory("SetRemove1M")>]
    member _.SetChampPersistentRemove() =
        let mutable m = set

        for i in 0 .. n - 1 do
            m <- Champ.remove probes[i] m

        Champ.count m

    [<Benchmark(Baseline = true); BenchmarkCategory("SetIterate1M")>]
    member _.SetHashSetIterate() =
        let mutable total = 0L

        for m in hashSet do
            total <- total + int64 m.Length

        total

    [<Benchmark; BenchmarkCategory("SetIterate1M")>]
    member _.SetChampIterate() =
        Champ.fold (fun (total: int64) (m: byte[]) () -> total + int64 m.Length) 0L set
