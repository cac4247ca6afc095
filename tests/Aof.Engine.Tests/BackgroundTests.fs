module Aof.Engine.Tests.BackgroundTests

open System
open System.IO
open Xunit
open Aof.Engine

/// Field `n` (1-based, as proc(5) numbers them) of the calling thread's /proc stat line; the fields after
/// the parenthesised name start at field 3.
let private ownStat (n: int) =
    let stat = File.ReadAllText "/proc/thread-self/stat"
    let fields = stat.Substring(stat.LastIndexOf ')' + 2).Split ' '
    int fields[n - 3]

let private ownNice () = ownStat 19

let private ownPolicy () = ownStat 41

[<Fact>]
let ``a background thread runs at the lowest priority, and the caller's is untouched`` () =
    if not (OperatingSystem.IsLinux()) then
        () // nice values per thread are a Linux notion; elsewhere start only names the thread
    else
        let before = ownNice ()
        Assert.Equal(Background.Nice, Background.run "test-background" ownNice)
        Assert.Equal(before, ownNice ())

[<Fact>]
let ``a background thread runs only on otherwise idle CPUs (SCHED_IDLE), and the caller's policy is untouched`` () =
    if not (OperatingSystem.IsLinux()) then
        () // scheduling policies per thread are a Linux notion
    else
        let before = ownPolicy ()
        Assert.Equal(Background.SchedIdle, Background.run "test-background" ownPolicy)
        Assert.Equal(before, ownPolicy ())

[<Fact>]
let ``a background failure is raised to the caller`` () =
    let e = Assert.Throws<InvalidOperationException>(fun () -> Background.run "test-background" (fun () -> invalidOp "disk gone") |> ignore)
    Assert.Equal("disk gone", e.Message)
