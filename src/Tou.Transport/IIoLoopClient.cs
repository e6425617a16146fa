namespace Tou.Transport;

/// <summary>What an <see cref="IoLoop"/> drives: a socket's owner, called on the loop's thread.</summary>
internal interface IIoLoopClient
{
    /// <summary><paramref name="registration"/>'s socket has datagrams queued; take a bounded batch (the loop asks again while
    /// more are queued), or unregister when the socket is not to be read any more.</summary>
    void OnReadable(IoLoopRegistration registration);

    /// <summary>The deadline last given to <see cref="IoLoopRegistration.SetDeadline"/> has come; set the next one.</summary>
    void OnDeadline();

    /// <summary>A callback threw; the loop goes on with its other sockets.</summary>
    void OnLoopFault(Exception exception);
}
