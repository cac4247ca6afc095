namespace Aof.Bench

open System.Collections.Generic
open System.Collections.Immutable
open BenchmarkDotNet.Attributes
open BenchmarkDotNet.Configs
open BenchmarkDotNet.Running
open Aof.Core

/// The keyspace's hot path: one million SETs and GETs of `key:000000123`-style keys, on the CHAMP map
/// (persistent and transient), the BCL's persistent map, and a mutable Dictionary as the floor.
///
/// Not sealed: BenchmarkDotNet derives its generated runner from the benchmark class.
[<MemoryDiagnoser>]
[<SimpleJob(launchCount = 1, warmupCount = 1, iterationCount = 3)>]
[<GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)>]
[<CategoriesColumn>]
type MapBenchmarks() =
    let n = 1_000_000
    let mutable keys: byte[][] = [||]
    // Same contents, other arrays: lookups must compare bytes, not hit the reference-equality shortcut.
    let mutable probes: byte[][] = [||]
    let mutable champ = Champ.empty<int>
    let mutable immutable = ImmutableDictionary.Create<byte[], int>(BytesComparer.Instance)
    let mutable dictionary = Dictionary<byte[], int>(BytesComparer.Instance)

    let makeKeys () =
        Array.init n (fun i -> Bytes.ofString $"key:{i:D9}")

    [<GlobalSetup>]
    member _.Setup() =
        keys <- makeKeys ()
        probes <- makeKeys ()
        let t = Champ.toTransient Champ.empty

        for i in 0 .. n - 1 do
            t.Set(keys[i], i)

        champ <- t.Persist()
        let b = ImmutableDictionary.CreateBuilder<byte[], int>(BytesComparer.Instance)

        for i in 0 .. n - 1 do
            b[keys[i]] <- i

        immutable <- b.ToImmutable()
        dictionary <- Dictionary<byte[], int>(BytesComparer.Instance)

        for i in 0 .. n - 1 do
            dictionary[keys[i]] <- i

    [<Benchmark(Baseline = true); BenchmarkCategory("Insert1M")>]
    member _.ImmutableDictionaryInsert() =
        let mutable m = ImmutableDictionary.Create<byte[], int>(BytesComparer.Instance)

        for i in 0 .. n - 1 do
            m <- m.SetItem(keys[i], i)

        m.Count

    [<Benchmark; BenchmarkCategory("Insert1M")>]
    member _.ChampPersistentInsert() =
        let mutable m = Champ.empty

        for i in 0 .. n - 1 do
            m <- Champ.add keys[i] i m

        Champ.count m

    [<Benchmark; BenchmarkCategory("Insert1M")>]
    member _.ChampTransientInsert() =
        let t = Champ.toTransient Champ.empty

        for i in 0 .. n - 1 do
            t.Set(keys[i], i)

        Champ.count (t.Persist())

    [<Benchmark; BenchmarkCategory("Insert1M")>]
    member _.DictionaryInsert() =
        let d = Dictionary<byte[], int>(BytesComparer.Instance)

        for i in 0 .. n - 1 do
            d[keys[i]] <- i

        d.Count

    [<Benchmark(Baseline = true); BenchmarkCategory("Lookup1M")>]
    member _.ImmutableDictionaryLookup() =
        let mutable sum = 0L

        for i in 0 .. n - 1 do
            match immutable.TryGetValue probes[i] with
            | true, v -> sum <- sum + int64 v
            | _ -> ()

        sum

    [<Benchmark; BenchmarkCategory("Lookup1M")>]
    member _.ChampLookup() =
        let mutable sum = 0L

        for i in 0 .. n - 1 do
            match Champ.tryFind probes[i] champ with
            | ValueSome v -> sum <- sum + int64 v
            | ValueNone -> ()

        sum

    [<Benchmark; BenchmarkCategory("Lookup1M")>]
    member _.DictionaryLookup() =
        let mutable sum = 0L

        for i in 0 .. n - 1 do
            match dictionary.TryGetValue probes[i] with
            | true, v -> sum <- sum + int64 v
            | _ -> ()

        sum

module Program =
    [<EntryPoint>]
    let main argv =
        BenchmarkSwitcher.FromAssembly(typeof<MapBenchmarks>.Assembly).Run(argv) |> ignore
        0
