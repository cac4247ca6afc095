// The few Linux calls the event loop needs that .NET does not expose: an epoll set and an eventfd to wake it.
// Reads and writes on client sockets go through .NET's own non-blocking Socket.Receive/Send, which are
// plain recv/send calls.

using System.Runtime.InteropServices;

namespace Aof.Server;

static class Epoll
{
    public const int In = 0x001, Out = 0x004, Err = 0x008, Hup = 0x010;
    const int CtlAdd = 1, CtlDel = 2, CtlMod = 3;
    const int CloExec = 0x80000, EventFdNonBlock = 0x800;
    const int Interrupted = 4; // EINTR

    /// <summary>Only Linux has epoll; the layout of its events is known for x64 and arm64.</summary>
    public static bool Available =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    // struct epoll_event is packed on x64 (4-byte events, then 8-byte data at offset 4: 12 bytes) and
    // naturally aligned elsewhere (data at offset 8: 16 bytes). Events are handled as ints so one array
    // type fits both; the data carries a descriptor in its low 32 bits (little-endian on both).
    static readonly int Stride = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 3 : 4;
    static readonly int DataAt = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 1 : 2;

    [DllImport("libc", SetLastError = true)]
    static extern int epoll_create1(int flags);

    [DllImport("libc", SetLastError = true)]
    static extern int epoll_ctl(int epfd, int op, int fd, int[] ev);

    [DllImport("libc", SetLastError = true)]
    static extern int epoll_wait(int epfd, int[] events, int maxevents, int timeout);

    [DllImport("libc", SetLastError = true)]
    static extern int eventfd(uint initval, int flags);

    [DllImport("libc", SetLastError = true)]
    static extern nint read(int fd, long[] buf, nint count);

    [DllImport("libc", SetLastError = true)]
    static extern nint write(int fd, long[] buf, nint count);

    [DllImport("libc", SetLastError = true)]
    static extern int close(int fd);

    public static int Create() => Check(epoll_create1(CloExec), "epoll_create1");

    public static int CreateEventFd() => Check(eventfd(0, CloExec | EventFdNonBlock), "eventfd");

    public static void Add(int epfd, int fd, int interest) => Check(epoll_ctl(epfd, CtlAdd, fd, Event(fd, interest)), "epoll_ctl");

    public static void Modify(int epfd, int fd, int interest) => epoll_ctl(epfd, CtlMod, fd, Event(fd, interest));

    public static void Remove(int epfd, int fd) => epoll_ctl(epfd, CtlDel, fd, new int[4]);

    /// <summary>A buffer for up to <paramref name="count"/> events.</summary>
    public static int[] Events(int count) => new int[count * Stride];

    /// <summary>Waits for events (timeout -1: until there are some); 0 when interrupted by a signal.</summary>
    public static int Wait(int epfd, int[] events, int timeoutMs)
    {
        var n = epoll_wait(epfd, events, events.Length / Stride, timeoutMs);
        if (n < 0 && Marshal.GetLastPInvokeError() == Interrupted) return 0;
        return Check(n, "epoll_wait");
    }

    public static int Flags(int[] events, int i) => events[i * Stride];

    public static int Descriptor(int[] events, int i) => events[i * Stride + DataAt];

    public static void Signal(int eventFd, long[] one) => write(eventFd, one, 8);

    public static void Drain(int eventFd, long[] scratch) => read(eventFd, scratch, 8);

    public static void Close(int fd) => close(fd);

    static int[] Event(int fd, int interest)
    {
        var ev = new int[4];
        ev[0] = interest;
        ev[DataAt] = fd;
        return ev;
    }

    static int Check(int result, string call) =>
        result >= 0 ? result : throw new IOException($"{call} failed: errno {Marshal.GetLastPInvokeError()}");
}
