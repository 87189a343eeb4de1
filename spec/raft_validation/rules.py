"""The rules the Raft trace validator checks, each named and stated in words with its source.

A violation names one of these rules; the text is what a person reads to understand which part of
Raft the implementation broke. Sources: the Raft paper (Ongaro and Ousterhout, 2014), Figure 2
("Rules for servers", "RequestVote RPC", "AppendEntries RPC") and Figure 3 (the five
properties), Ongaro's thesis chapter 4 (membership changes), and etcd-io/raft's TLA+ spec.
"""

from __future__ import annotations

import msgspec


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """A named rule of Raft, stated in words, with where it comes from."""

    name: str
    statement: str
    source: str


ELECTION_SAFETY = Rule(
    name="election-safety",
    statement="at most one leader can be elected in a given term",
    source="Raft paper, Figure 3 (Election Safety)",
)
LEADER_NEEDS_QUORUM = Rule(
    name="leader-needs-quorum",
    statement=(
        "a candidate becomes leader only after receiving votes, in its current term, from a "
        "majority of the voters of its configuration (of both halves of a joint configuration)"
    ),
    source="Raft paper, Figure 2 (Candidates) and section 5.2; thesis section 4.3 (joint)",
)
PRE_VOTE_NEEDS_QUORUM = Rule(
    name="pre-vote-needs-quorum",
    statement=(
        "a pre-candidate starts a real election only after pre-votes from a majority of its "
        "configuration (of both halves of a joint one)"
    ),
    source="Raft thesis section 9.6 (Preventing disruptions); etcd-io/raft stepCandidate",
)
ONE_VOTE_PER_TERM = Rule(
    name="one-vote-per-term",
    statement="a server grants at most one vote per term",
    source="Raft paper, Figure 2 (RequestVote RPC, receiver implementation 2) and section 5.2",
)
VOTE_UP_TO_DATE = Rule(
    name="vote-requires-up-to-date-log",
    statement=(
        "a server grants its vote only if the candidate's log is at least as up-to-date as its "
        "own (greater last term, or equal last term and last index at least as large)"
    ),
    source="Raft paper, section 5.4.1",
)
VOTE_NEEDS_REQUEST = Rule(
    name="vote-needs-request",
    statement="a vote is granted only in answer to a vote request of the same term",
    source="Raft paper, Figure 2 (RequestVote RPC)",
)
COMMIT_MONOTONIC = Rule(
    name="commit-index-monotonic",
    statement="a server's commit index never decreases",
    source="Raft paper, Figure 2 (commitIndex: increases monotonically)",
)
LEADER_COMMIT_RULE = Rule(
    name="leader-commit-rule",
    statement=(
        "a leader advances its commit index to N only if N is stored on a majority of its "
        "configuration and the entry at N is from the leader's current term"
    ),
    source="Raft paper, Figure 2 (Rules for servers, Leaders) and section 5.4.2",
)
FOLLOWER_COMMIT_RULE = Rule(
    name="follower-commit-rule",
    statement=(
        "a follower advances its commit index only to min(leaderCommit, index of last new "
        "entry) of an AppendEntries it accepted, or to a snapshot's index"
    ),
    source="Raft paper, Figure 2 (AppendEntries RPC, receiver implementation 5)",
)
COMMITTED_NEVER_OVERWRITTEN = Rule(
    name="committed-entry-never-overwritten",
    statement="an entry that is committed is never removed or replaced in any server's log",
    source="Raft paper, Figure 3 (State Machine Safety, Leader Completeness)",
)
STATE_MACHINE_SAFETY = Rule(
    name="state-machine-safety",
    statement="no two servers commit different entries at the same index",
    source="Raft paper, Figure 3 (State Machine Safety)",
)
LEADER_COMPLETENESS = Rule(
    name="leader-completeness",
    statement=(
        "a leader holds every entry committed in an earlier term, at the same index and term"
    ),
    source="Raft paper, Figure 3 (Leader Completeness) and section 5.4",
)
LOG_MATCHING = Rule(
    name="log-matching",
    statement=(
        "a follower appends entries only after its entry at prevLogIndex matches prevLogTerm, "
        "and a conflicting entry is replaced only together with all that follow it"
    ),
    source="Raft paper, Figure 2 (AppendEntries RPC, receiver implementation 2-4), section 5.3",
)
TERM_RULES = Rule(
    name="term-rules",
    statement=(
        "a server's term only grows: by one when it starts an election, or to the term of a "
        "message it received with a higher term (and then it becomes a follower and forgets its "
        "vote); a restart resumes the persisted term"
    ),
    source="Raft paper, Figure 2 (Rules for servers, All servers) and section 5.1",
)
ROLE_TRANSITIONS = Rule(
    name="role-transitions",
    statement=(
        "followers and candidates start elections, only candidates become leaders, and only "
        "voters of the node's configuration may campaign"
    ),
    source="Raft paper, Figure 4; etcd-io/raft promotable()",
)
CAMPAIGN_WITH_UNAPPLIED_CONFIG = Rule(
    name="no-campaign-with-unapplied-config",
    statement=(
        "a server with a committed but not yet applied configuration entry must not campaign "
        "(configurations take effect when applied)"
    ),
    source="etcd-io/raft hup() and hasUnappliedConfChanges(); etcd-io/raft#456",
)
LEADER_APPEND_ONLY = Rule(
    name="leader-append-only",
    statement=(
        "only a leader creates entries, in its own term, at the end of its log; a leader never "
        "removes entries from its log"
    ),
    source="Raft paper, Figure 3 (Leader Append-Only)",
)
MESSAGE_WAS_SENT = Rule(
    name="message-was-sent",
    statement="a server receives only messages that some server sent",
    source="Raft's network model: messages may be lost, duplicated or reordered, not invented",
)
MESSAGE_MATCHES_SENDER = Rule(
    name="message-matches-sender",
    statement=(
        "a message carries its sender's state: its term, and for requests the sender's log "
        "(last index and term for votes; prevLogIndex/prevLogTerm and entries from its log, and "
        "a commit index no larger than its own, for appends); only leaders send appends, only "
        "candidates request votes"
    ),
    source="Raft paper, Figure 2 (RequestVote and AppendEntries arguments)",
)
READ_INDEX_RULE = Rule(
    name="read-index-rule",
    statement=(
        "only a leader answers a read index request, with an index no larger than its commit "
        "index, and only once it has committed an entry of its current term"
    ),
    source="Raft thesis section 6.4 (Processing read-only queries); etcd-io/raft "
    "committedEntryInCurrentTerm()",
)
STATE_MATCHES_REFERENCE = Rule(
    name="state-matches-reference",
    statement=(
        "the state a server reports is the state the reference reaches by applying the Raft "
        "transitions to the events seen so far"
    ),
    source="trace validation (etcd-io/raft tla/Traceetcdraft.tla ValidatePostStates)",
)
RESTART_FROM_PERSISTED = Rule(
    name="restart-from-persisted-state",
    statement="a server restarts with the term, vote and log it persisted",
    source="Raft paper, Figure 2 (Persistent state on all servers)",
)
CONFIG_FROM_COMMITTED_ENTRY = Rule(
    name="config-from-committed-entry",
    statement=(
        "a configuration is applied only from the next committed configuration entry, and is "
        "that entry's change applied to the current configuration"
    ),
    source="Raft thesis, chapter 4; etcd-io/raft applyConfChange and confchange",
)

ALL_RULES: tuple[Rule, ...] = (
    ELECTION_SAFETY,
    LEADER_NEEDS_QUORUM,
    PRE_VOTE_NEEDS_QUORUM,
    ONE_VOTE_PER_TERM,
    VOTE_UP_TO_DATE,
    VOTE_NEEDS_REQUEST,
    COMMIT_MONOTONIC,
    LEADER_COMMIT_RULE,
    FOLLOWER_COMMIT_RULE,
    COMMITTED_NEVER_OVERWRITTEN,
    STATE_MACHINE_SAFETY,
    LEADER_COMPLETENESS,
    LOG_MATCHING,
    TERM_RULES,
    ROLE_TRANSITIONS,
    CAMPAIGN_WITH_UNAPPLIED_CONFIG,
    LEADER_APPEND_ONLY,
    MESSAGE_WAS_SENT,
    MESSAGE_MATCHES_SENDER,
    READ_INDEX_RULE,
    STATE_MATCHES_REFERENCE,
    RESTART_FROM_PERSISTED,
    CONFIG_FROM_COMMITTED_ENTRY,
)
