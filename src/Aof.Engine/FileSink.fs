namespace Aof.Engine

open System
open System.IO
open System.Runtime.InteropServices
open Microsoft.Win32.SafeHandles

/// A write that did not happen, with the reason as the OS words it (`No space left on device`): Redis
/// puts that text in its log and in the `-MISCONF` error.
exception WriteFailed of reason: string

/// The narrow seam between the log and the disk. Everything the AOF does to a file goes through it, so
/// tests can put ENOSPC, EIO and short writes in the way of a real file.
type IFileSink =
    inherit IDisposable
    abstract Path: string
    /// Bytes in the file.
    abstract Length: int64
    /// Appends all of `data`, or raises WriteFailed; on failure a prefix of `data` may have reached the file.
    abstract Write: data: ReadOnlySpan<byte> -> unit
    /// fdatasync: what was written survives a crash once this returns. Raises WriteFailed.
    abstract Sync: unit -> unit
    /// Cuts the file back (to undo a partial write). Raises WriteFailed.
    abstract Truncate: length: int64 -> unit

module private Native =
    [<DllImport("libc", SetLastError = true)>]
    extern int fdatasync(int fd)

    [<DllImport("libc", SetLastError = true)>]
    extern int fsync(int fd)

    [<DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)>]
    extern int ``open``(string path, int flags)

    [<DllImport("libc", SetLastError = true)>]
    extern int close(int fd)

    [<DllImport("libc")>]
    extern nativeint strerror(int errnum)

/// The engine's effects at its edge that tests replace: how AOF files are opened (fault injection goes
/// here) and how the process ends on a fatal persistence error (Redis exits; a test records it instead).
/// Files on disk, with Redis's durability calls.
module FileSink =
    let private errnoText (errno: int) =
        match Marshal.PtrToStringAnsi(Native.strerror errno) with
        | null -> sprintf "errno %d" errno
        | s -> s

    /// The OS reason behind an IOException: .NET keeps errno in the HResult's low bits on Unix.
    let reasonOf (e: exn) : string =
        match e with
        | WriteFailed reason -> reason
        | :? IOException as io when OperatingSystem.IsLinux() && io.HResult &&& 0xFFFF > 0 && io.HResult &&& 0xFFFF < 200 ->
            errnoText (io.HResult &&& 0xFFFF)
        | e -> e.Message

    let private sync (handle: SafeFileHandle) (path: string) =
        if OperatingSystem.IsLinux() then
            if Native.fdatasync (int (handle.DangerousGetHandle())) <> 0 then
                raise (WriteFailed(errnoText (Marshal.GetLastPInvokeError())))
        else
            try
                RandomAccess.FlushToDisk handle
            with e ->
                raise (WriteFailed(sprintf "%s: %s" path e.Message))

    /// Opens (creating if needed) a file for appending.
    let openAppend (path: string) : IFileSink =
        let handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite ||| FileShare.Delete)
        let mutable length = RandomAccess.GetLength handle

        { new IFileSink with
            member _.Path = path
            member _.Length = length

            member _.Write(data: ReadOnlySpan<byte>) =
                try
                    RandomAccess.Write(handle, data, length)
                    length <- length + int64 data.Length
                with e ->
                    // Whatever part reached the file is past `length`: the caller truncates it away.
                    raise (WriteFailed(reasonOf e))

            member _.Sync() = sync handle path

            member _.Truncate(len: int64) =
                try
                    RandomAccess.SetLength(handle, len)
                    length <- len
                with e ->
                    raise (WriteFailed(reasonOf e))

            member _.Dispose() = handle.Dispose() }

    /// Makes a directory's entries (a rename, a new file) durable, as Redis does after replacing the
    /// manifest.
    let syncDirectory (dir: string) : unit =
        if OperatingSystem.IsLinux() then
            let fd = Native.``open`` (dir, 0)

            if fd >= 0 then
                Native.fsync fd |> ignore
                Native.close fd |> ignore

    /// Writes a whole file durably: temp name, write, fsync, rename over, fsync the directory.
    let replaceDurably (path: string) (bytes: byte[]) : unit =
        let dir = Path.GetDirectoryName(Path.GetFullPath path)
        let temp = Path.Combine(dir, "temp-" + Path.GetFileName path)

        using (File.OpenHandle(temp, FileMode.Create, FileAccess.Write)) (fun h ->
            RandomAccess.Write(h, ReadOnlySpan bytes, 0L)
            sync h temp)

        File.Move(temp, path, true)
        syncDirectory dir

/// The engine's effects at its edge that tests replace: how AOF files are opened (fault injection goes
/// here) and how the process ends on a fatal persistence error (Redis exits; a test records it instead).
type EngineHooks =
    { OpenSink: string -> IFileSink
      Exit: int -> unit
      /// Told each step of a background rewrite ("base-half-written", "base-written", "manifest-switched"):
      /// a test raises here to leave the files as a crash at that step would.
      RewriteStep: string -> unit }

    static member Default =
        { OpenSink = FileSink.openAppend
          Exit = fun code -> exit code
          RewriteStep = ignore }
