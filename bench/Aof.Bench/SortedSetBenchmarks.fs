namespace Aof.Bench

open System
open System.Collections.Generic
open BenchmarkDotNet.Attributes
open BenchmarkDotNet.Configs
open Aof.Core

/// (score, member) order for the BCL's SortedSet: the same order as the persistent ZSet.
[<Sealed>]
type ScoreMemberComparer() =
    static member val Instance = ScoreMemberComparer()

    interface IComparer<struct (float * byte[])> with
        member _.Compare(struct (s1, m1), struct (s2, m2)) =
            if s1 < s2 then -1
            elif s1 > s2 then 1
            else Bytes.compare m1 m2

/// The persistent sorted set (weight-balanced tree with sizes + CHAMP of scores) against its mutable BCL
/// counterpart (a red-black SortedSet<(score, member)> plus a Dictionary member -> score), on one million
/// members: building by single adds, ZSCORE-style lookups, ZRANK-style ranks, ZRANGE-style windows of 10
/// by rank, and removing everything. The BCL's tree has no subtree sizes, so its rank is a linear count
/// (GetViewBetween(...).Count) and its rank window a skip: the comparison shows what the sizes buy.
///
/// Not sealed: BenchmarkDotNet derives its generated runner from the benchmark class.
[<MemoryDiagnoser>]
[<SimpleJob(launchCount = 1, warmupCount = 1, iterationCount = 3)>]
[<GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)>]
[<CategoriesColumn>]
type SortedSetBenchmarks() =
    let n = 1_000_000
    /// Rank queries on the BCL tree are O(n) each: fewer of them, or the suite would run for hours.
    let rankProbes = 200
    let mutable members: byte[][] = [||]
    let mutable scores: float[] = [||]
    let mutable zset = ZSet.empty
    let mutable bclTree = SortedSet<struct (float * byte[])>(ScoreMemberComparer.Instance)
    let mutable bclScores = Dictionary<byte[], float>(BytesComparer.Instance)

    [<GlobalSetup>]
    member _.Setup() =
        let rnd = Random 42
        members <- Array.init n (fun i -> Bytes.ofString $"member:{i:D9}")
        scores <- Array.init n (fun _ -> float (rnd.Next 1_000_000))
        zset <- ZSet.ofSeq (Seq.init n (fun i -> struct (members[i], scores[i])))
        bclTree <- SortedSet<struct (float * byte[])>(ScoreMemberComparer.Instance)
        bclScores <- Dictionary<byte[], float>(BytesComparer.Instance)

        for i in 0 .. n - 1 do
            bclTree.Add(struct (scores[i], members[i])) |> ignore
            bclScores[members[i]] <- scores[i]

    [<Benchmark(Baseline = true); BenchmarkCategory("Add1M")>]
    member _.BclAdd() =
        let tree = SortedSet<struct (float * byte[])>(ScoreMemberComparer.Instance)
        let d = Dictionary<byte[], float>(BytesComparer.Instance)

        for i in 0 .. n - 1 do
            match d.TryGetValue members[i] with
            | true, old -> tree.Remove(struct (old, members[i])) |> ignore
            | _ -> ()

            d[members[i]] <- scores[i]
            tree.Add(struct (scores[i], members[i])) |> ignore

        tree.Count

    [<Benchmark; BenchmarkCategory("Add1M")>]
    member _.ZSetAdd() =
        let mutable z = ZSet.empty

        for i in 0 .. n - 1 do
            z <- ZSet.add members[i] scores[i] z

        ZSet.count z

    [<Benchmark(Baseline = true); BenchmarkCategory("Score1M")>]
    member _.BclScore() =
        let mutable sum = 0.0

        for i in 0 .. n - 1 do
            sum <- sum + bclScores[members[i]]

        sum

    [<Benchmark; BenchmarkCategory("Score1M")>]
    member _.ZSetScore() =
        let mutable sum = 0.0

        for i in 0 .. n - 1 do
            match ZSet.tryScore members[i] zset with
            | ValueSome s -> sum <- sum + s
            | ValueNone -> ()

        sum

    [<Benchmark(Baseline = true); BenchmarkCategory("Rank")>]
    member _.BclRank() =
        let mutable sum = 0L

        for i in 0 .. rankProbes - 1 do
            let m = members[i * (n / rankProbes)]
            let s = bclScores[m]
            sum <- sum + int64 (bclTree.GetViewBetween(bclTree.Min, struct (s, m)).Count)

        sum

    [<Benchmark; BenchmarkCategory("Rank")>]
    member _.ZSetRank() =
        let mutable sum = 0L

        for i in 0 .. rankProbes - 1 do
            match ZSet.rank members[i * (n / rankProbes)] zset with
            | ValueSome r -> sum <- sum + int64 r
            | ValueNone -> ()

        sum

    [<Benchmark(Baseline = true); BenchmarkCategory("RangeByRank")>]
    member _.BclRangeByRank() =
        let mutable count = 0

        for i in 0 .. rankProbes - 1 do
            let start = i * (n / rankProbes)

            for struct (_, m) in Linq.Enumerable.Take(Linq.Enumerable.Skip(bclTree, start), 10) do
                count <- count + m.Length

        count

    [<Benchmark; BenchmarkCategory("RangeByRank")>]
    member _.ZSetRangeByRank() =
        let mutable count = 0

        for i in 0 .. rankProbes - 1 do
            let start = i * (n / rankProbes)

            for struct (m, _) in ZSet.slice start (start + 10) zset do
                count <- count + m.Length

        count

    [<Benchmark(Baseline = true); BenchmarkCategory("Remove1M")>]
    member _.BclRemoveAll() =
        // The mutable pair is copied first (a persistent set needs no copy to keep its original): that
        // copy is what a snapshot costs a mutable structure, so it is part of the measure.
        let tree = SortedSet<struct (float * byte[])>(bclTree, ScoreMemberComparer.Instance)
        let d = Dictionary<byte[], float>(bclScores, BytesComparer.Instance)

        for i in 0 .. n - 1 do
            let mutable s = 0.0

            if d.Remove(members[i], &s) then tree.Remove(struct (s, members[i])) |> ignore

        tree.Count

    [<Benchmark; BenchmarkCategory("Remove1M")>]
    member _.ZSetRemoveAll() =
        let mutable z = zset

        for i in 0 .. n - 1 do
            z <- ZSet.remove members[i] z

        ZSet.count z
