module Aof.Engine.Tests.BackgroundTests

open System
open System.IO
open Xunit
open Aof.Engine

/// The calling thread's nice value, field 19 of its /proc stat line (after the parenthesised name).
let private ownNice () =
    let stat = File.ReadAllText "/proc/thread-self/stat"
    let fields = stat.Substring(stat.LastIndexOf ')' + 2).Split ' '
    int fields[16]

[<Fact>]
let ``a background thread runs at the lowest priority, and the caller's is untouched`` () =
    if not (OperatingSystem.IsLinux()) then
        () // nice values per thread are a Linux notion; elsewhere start only names the thread
    else
        let before = ownNice ()
        Assert.Equal(Background.Nice, Background.run "test-background" ownNice)
        Assert.Equal(before, ownNice ())

[<Fact>]
let ``a background failure is raised to the caller`` () =
    let e = Assert.Throws<InvalidOperationException>(fun () -> Background.run "test-background" (fun () -> invalidOp "disk gone") |> ignore)
    Assert.Equal("disk gone", e.Message)
