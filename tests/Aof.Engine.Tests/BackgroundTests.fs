module Aof.Engine.Tests.BackgroundTests

open System
open System.IO
open System.Threading.Tasks
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
        let seen = TaskCompletionSource<int>()
        Background.start "test-background" (fun () -> seen.SetResult(ownNice ()))
        Assert.True(seen.Task.Wait(TimeSpan.FromSeconds 10.0), "the background work never ran")
        Assert.Equal(Background.Nice, seen.Task.Result)
        Assert.Equal(before, ownNice ())
