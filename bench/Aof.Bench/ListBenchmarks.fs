namespace Aof.Bench

open System
open System.Collections.Generic
open BenchmarkDotNet.Attributes
open BenchmarkDotNet.Configs
open Aof.Core

/// The list value's hot paths on one million elements: pushes at both ends (LPUSH/RPUSH), pops at both
/// ends (LPOP/RPOP), random index reads (LINDEX/LSET's lookup) and a full in-order walk (LRANGE 0 -1, the
/// rewrite). PList, persistent, against the mutable BCL structures that do the same job: LinkedList for
/// both ends, List<byte[]> for the back and for indexing (its front insert is O(n), so it only pushes and
/// pops at the back).
///
/// Not sealed: BenchmarkDotNet derives its generated runner from the benchmark class.
[<MemoryDiagnoser>]
[<SimpleJob(launchCount = 1, warmupCount = 1, iterationCount = 3)>]
[<GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)>]
[<CategoriesColumn>]
type ListBenchmarks() =
    let n = 1_000_000
    let mutable items: byte[][] = [||]
    let mutable probes: int[] = [||]
    let mutable plist = PList.empty
    let mutable list = List<byte[]>()
    let mutable linked = LinkedList<byte[]>()
    // Read-only copies for the index and walk benchmarks, never popped.
    let mutable listFull = List<byte[]>()
    let mutable linkedFull = LinkedList<byte[]>()

    [<GlobalSetup>]
    member _.Setup() =
        items <- Array.init n (fun i -> Bytes.ofString $"element:{i}")
        let rnd = Random(42)
        probes <- Array.init 100_000 (fun _ -> rnd.Next n)
        plist <- PList.ofSeq items
        listFull <- List<byte[]>(items)
        linkedFull <- LinkedList<byte[]>(items)

    /// The pops mutate the BCL structures: each iteration starts from a full one.
    [<IterationSetup(Targets = [| "LinkedListPopBoth"; "ListPopBack" |])>]
    member _.RefillMutable() =
        linked <- LinkedList<byte[]>(items)
        list <- List<byte[]>(items)

    [<Benchmark(Baseline = true); BenchmarkCategory("Push1M")>]
    member _.PListPushBoth() =
        let mutable l = PList.empty

        for i in 0 .. 2 .. n - 1 do
            l <- PList.pushBack items[i] (PList.pushFront items[i + 1] l)

        PList.count l

    [<Benchmark; BenchmarkCategory("Push1M")>]
    member _.LinkedListPushBoth() =
        let l = LinkedList<byte[]>()

        for i in 0 .. 2 .. n - 1 do
            l.AddFirst items[i + 1] |> ignore
            l.AddLast items[i] |> ignore

        l.Count

    [<Benchmark; BenchmarkCategory("Push1M")>]
    member _.ListPushBack() =
        let l = List<byte[]>()

        for i in 0 .. n - 1 do
            l.Add items[i]

        l.Count

    [<Benchmark(Baseline = true); BenchmarkCategory("Pop1M")>]
    member _.PListPopBoth() =
        let mutable l = plist
        let mutable total = 0

        while PList.count l > 1 do
            total <- total + (PList.head l).Length + (PList.last l).Length
            l <- PList.popBack (PList.popFront l)

        total

    [<Benchmark; BenchmarkCategory("Pop1M")>]
    member _.LinkedListPopBoth() =
        let mutable total = 0

        while linked.Count > 1 do
            total <- total + linked.First.Value.Length + linked.Last.Value.Length
            linked.RemoveFirst()
            linked.RemoveLast()

        total

    [<Benchmark; BenchmarkCategory("Pop1M")>]
    member _.ListPopBack() =
        let mutable total = 0

        while list.Count > 0 do
            total <- total + list[list.Count - 1].Length
            list.RemoveAt(list.Count - 1)

        total

    [<Benchmark(Baseline = true); BenchmarkCategory("Index100k")>]
    member _.PListIndex() =
        let mutable total = 0

        for i in probes do
            total <- total + (PList.item i plist).Length

        total

    [<Benchmark; BenchmarkCategory("Index100k")>]
    member _.ListIndex() =
        let mutable total = 0

        for i in probes do
            total <- total + listFull[i].Length

        total

    [<Benchmark(Baseline = true); BenchmarkCategory("Iterate1M")>]
    member _.PListIterate() =
        let mutable total = 0

        for x in PList.toSeq plist do
            total <- total + x.Length

        total

    [<Benchmark; BenchmarkCategory("Iterate1M")>]
    member _.PListSlice() =
        let mutable total = 0

        for x in PList.slice 0 n plist do
            total <- total + x.Length

        total

    [<Benchmark; BenchmarkCategory("Iterate1M")>]
    member _.LinkedListIterate() =
        let mutable total = 0

        for x in linkedFull do
            total <- total + x.Length

        total
