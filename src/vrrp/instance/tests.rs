//! Scripts on a fake clock: `t0` is any instant, every later time is `t0 + offset`.
#![allow(
    clippy::disallowed_methods,
    reason = "a test picks any origin for the time it passes in"
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::*;
use crate::vrrp::wire::{decode, encode};

const VRID: u8 = 51;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn us() -> IpAddr {
    "192.0.2.1".parse().unwrap()
}

fn higher_peer() -> IpAddr {
    "192.0.2.9".parse().unwrap()
}

fn lower_peer() -> IpAddr {
    "192.0.2.0".parse().unwrap()
}

fn group() -> IpAddr {
    IpAddr::V4(GROUP_V4)
}

fn vip() -> Addresses {
    Addresses::V4(vec![Ipv4Addr::new(198, 51, 100, 10)])
}

fn interval(centiseconds: u16) -> AdvertInterval {
    AdvertInterval::from_centiseconds(centiseconds).unwrap()
}

fn config(priority: u8) -> InstanceConfig {
    InstanceConfig {
        vrid: VRID,
        priority,
        advert_interval: AdvertInterval::DEFAULT,
        addresses: vip(),
        primary_address: us(),
        link_local: None,
        unicast_peers: vec![],
        preempt: true,
        preempt_delay: Duration::ZERO,
        announce_repeat: 5,
        announce_again_after: Some(secs(5)),
    }
}

fn started(config: InstanceConfig, t0: Instant) -> Instance {
    let mut instance = Instance::new(config).unwrap();
    let actions = instance.handle(t0, Input::Start);
    assert_eq!(
        actions,
        [Action::StateChanged {
            from: State::Initialize,
            to: State::Backup
        }]
    );
    instance
}

/// An instance that became master at `t0 + master_down_interval`; returns that time.
fn master(config: InstanceConfig, t0: Instant) -> (Instance, Instant) {
    let mut instance = started(config, t0);
    let at = instance.poll_timeout().unwrap();
    instance.handle_timeout(at);
    assert_eq!(instance.state(), State::Master);
    (instance, at)
}

/// The bytes of an advert from `source` to the group.
fn advert_bytes(source: IpAddr, priority: u8, interval: AdvertInterval) -> Vec<u8> {
    let advert = Advert {
        vrid: VRID,
        priority,
        max_advert_interval: interval,
        addresses: vip(),
    };
    encode(&advert, source, group()).unwrap()
}

fn receive(instance: &mut Instance, now: Instant, source: IpAddr, priority: u8) -> Vec<Action> {
    receive_with(instance, now, source, priority, AdvertInterval::DEFAULT)
}

fn receive_with(
    instance: &mut Instance,
    now: Instant,
    source: IpAddr,
    priority: u8,
    interval: AdvertInterval,
) -> Vec<Action> {
    let bytes = advert_bytes(source, priority, interval);
    instance.handle(
        now,
        Input::Packet {
            source,
            destination: group(),
            ttl: 255,
            bytes: &bytes,
        },
    )
}

/// The adverts among `actions`, decoded: (destination, advert).
fn sent(actions: &[Action], source: IpAddr) -> Vec<(IpAddr, Advert)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { to, bytes } => Some((*to, decode(bytes, source, *to).unwrap())),
            _ => None,
        })
        .collect()
}

fn sent_priorities(actions: &[Action]) -> Vec<u8> {
    sent(actions, us())
        .into_iter()
        .map(|(_, a)| a.priority)
        .collect()
}

fn changed(from: State, to: State) -> Action {
    Action::StateChanged { from, to }
}

#[test]
fn skew_time_shrinks_as_priority_grows() {
    let second = AdvertInterval::DEFAULT;
    assert_eq!(
        skew_time(1, second),
        Duration::from_micros(996_093) + Duration::from_nanos(750)
    );
    assert_eq!(skew_time(100, second), Duration::from_micros(609_375));
    assert_eq!(skew_time(200, second), Duration::from_micros(218_750));
    assert_eq!(
        skew_time(254, second),
        Duration::from_micros(7_812) + Duration::from_nanos(500)
    );
    assert_eq!(
        skew_time(100, interval(10)),
        Duration::from_micros(60_937) + Duration::from_nanos(500)
    );
    assert_eq!(
        master_down_interval(100, second),
        ms(3609) + Duration::from_micros(375)
    );
    assert_eq!(
        master_down_interval(254, interval(10)),
        ms(300) + Duration::from_micros(781) + Duration::from_nanos(250)
    );
}

#[test]
fn start_enters_backup_with_the_master_down_timer_armed() {
    let t0 = Instant::now();
    let instance = started(config(100), t0);
    assert_eq!(instance.state(), State::Backup);
    assert_eq!(
        instance.poll_timeout(),
        Some(t0 + master_down_interval(100, AdvertInterval::DEFAULT))
    );
    assert_eq!(instance.status().last_transition, Some(t0));
    assert!(!instance.status().holding_addresses);
}

#[test]
fn nothing_happens_before_the_master_down_timer_fires() {
    let t0 = Instant::now();
    let mut instance = started(config(100), t0);
    let deadline = instance.poll_timeout().unwrap();
    assert_eq!(instance.handle_timeout(deadline - ms(1)), []);
    assert_eq!(instance.state(), State::Backup);
}

#[test]
fn master_down_expiry_adds_the_addresses_then_advertises_and_announces() {
    let t0 = Instant::now();
    let mut instance = started(config(100), t0);
    let at = instance.poll_timeout().unwrap();
    let actions = instance.handle_timeout(at);
    assert_eq!(actions[0], changed(State::Backup, State::Master));
    assert_eq!(actions[1], Action::AddAddresses);
    assert!(matches!(actions[2], Action::Send { to, .. } if to == group()));
    assert_eq!(actions[3], Action::Announce { count: 5 });
    assert_eq!(actions.len(), 4);
    let (_, advert) = sent(&actions, us()).remove(0);
    assert_eq!(
        advert,
        Advert {
            vrid: VRID,
            priority: 100,
            max_advert_interval: AdvertInterval::DEFAULT,
            addresses: vip()
        }
    );
    assert!(instance.status().holding_addresses);
    assert_eq!(instance.status().master, Some((us(), 100)));
    assert_eq!(instance.poll_timeout(), Some(at + secs(1)));
}

#[test]
fn master_advertises_every_interval_and_announces_again_once() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(100), t0);
    for n in 1..=4 {
        assert_eq!(
            sent_priorities(&instance.handle_timeout(at + secs(n))),
            [100]
        );
    }
    let fifth = instance.handle_timeout(at + secs(5));
    assert_eq!(sent_priorities(&fifth), [100]);
    assert!(fifth.contains(&Action::Announce { count: 5 }));
    let sixth = instance.handle_timeout(at + secs(6));
    assert!(!sixth.contains(&Action::Announce { count: 5 }));
    assert_eq!(instance.status().adverts_sent, 7);
}

#[test]
fn backup_restarts_the_master_down_timer_on_each_advert_from_a_better_master() {
    let t0 = Instant::now();
    let mut instance = started(config(100), t0);
    let down = master_down_interval(100, AdvertInterval::DEFAULT);
    for n in 1..=10 {
        assert_eq!(receive(&mut instance, t0 + secs(n), higher_peer(), 200), []);
        assert_eq!(instance.poll_timeout(), Some(t0 + secs(n) + down));
    }
    assert_eq!(instance.status().master, Some((higher_peer(), 200)));
    assert_eq!(instance.status().adverts_received, 10);
}

#[test]
fn backup_learns_the_masters_advert_interval() {
    let t0 = Instant::now();
    let mut instance = started(config(100), t0);
    receive_with(&mut instance, t0 + ms(50), higher_peer(), 200, interval(10));
    assert_eq!(instance.status().master_advert_interval, interval(10));
    assert_eq!(
        instance.poll_timeout(),
        Some(t0 + ms(50) + master_down_interval(100, interval(10)))
    );
}

#[test]
fn equal_priority_master_is_accepted_by_a_preempting_backup() {
    let t0 = Instant::now();
    let mut instance = started(config(100), t0);
    receive(&mut instance, t0 + secs(1), lower_peer(), 100);
    assert_eq!(
        instance.poll_timeout(),
        Some(t0 + secs(1) + master_down_interval(100, AdvertInterval::DEFAULT))
    );
}

#[test]
fn preempting_backup_ignores_a_lower_priority_master_and_takes_over_when_it_times_out() {
    let t0 = Instant::now();
    let mut instance = started(config(150), t0);
    let deadline = instance.poll_timeout().unwrap();
    for n in 1..=3 {
        assert_eq!(receive(&mut instance, t0 + secs(n), higher_peer(), 100), []);
        assert_eq!(
            instance.poll_timeout(),
            Some(deadline),
            "a lower master must not hold us back"
        );
    }
    instance.handle_timeout(deadline);
    assert_eq!(instance.state(), State::Master);
}

#[test]
fn backup_without_preemption_accepts_a_lower_priority_master() {
    let t0 = Instant::now();
    let mut instance = started(
        InstanceConfig {
            preempt: false,
            ..config(150)
        },
        t0,
    );
    receive(&mut instance, t0 + secs(3), higher_peer(), 100);
    assert_eq!(
        instance.poll_timeout(),
        Some(t0 + secs(3) + master_down_interval(150, AdvertInterval::DEFAULT))
    );
    assert_eq!(instance.state(), State::Backup);
}

#[test]
fn preempt_delay_accepts_a_lower_priority_master_until_it_has_passed() {
    let t0 = Instant::now();
    let mut instance = started(
        InstanceConfig {
            preempt_delay: secs(10),
            ..config(150)
        },
        t0,
    );
    let down = master_down_interval(150, AdvertInterval::DEFAULT);
    for n in 1..10 {
        receive(&mut instance, t0 + secs(n), higher_peer(), 100);
        assert_eq!(instance.poll_timeout(), Some(t0 + secs(n) + down));
    }
    // From t0 + 10 s the lower master's adverts no longer hold the timer back.
    receive(&mut instance, t0 + secs(10), higher_peer(), 100);
    receive(&mut instance, t0 + secs(11), higher_peer(), 100);
    assert_eq!(instance.poll_timeout(), Some(t0 + secs(9) + down));
    instance.handle_timeout(t0 + secs(9) + down);
    assert_eq!(instance.state(), State::Master);
}

#[test]
fn priority_zero_makes_the_backup_take_over_after_skew_time() {
    let t0 = Instant::now();
    let mut instance = started(config(100), t0);
    receive(&mut instance, t0 + secs(1), higher_peer(), 200);
    receive(&mut instance, t0 + secs(2), higher_peer(), PRIORITY_STOP);
    let at = t0 + secs(2) + skew_time(100, AdvertInterval::DEFAULT);
    assert_eq!(instance.poll_timeout(), Some(at));
    assert_eq!(instance.status().master, None);
    let actions = instance.handle_timeout(at);
    assert_eq!(actions[0], changed(State::Backup, State::Master));
}

#[test]
fn master_yields_to_a_higher_priority_and_removes_its_addresses() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(100), t0);
    let now = at + ms(300);
    let actions = receive_with(&mut instance, now, lower_peer(), 101, interval(50));
    assert_eq!(
        actions,
        [
            changed(State::Master, State::Backup),
            Action::RemoveAddresses
        ]
    );
    assert!(!instance.status().holding_addresses);
    assert_eq!(instance.status().master, Some((lower_peer(), 101)));
    // Adver_Timer cancelled; Master_Down_Timer from the new master's interval.
    assert_eq!(
        instance.poll_timeout(),
        Some(now + master_down_interval(100, interval(50)))
    );
}

#[test]
fn equal_priorities_are_broken_by_the_higher_primary_address() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(100), t0);
    assert_eq!(receive(&mut instance, at + ms(10), lower_peer(), 100), []);
    assert_eq!(instance.state(), State::Master);
    let actions = receive(&mut instance, at + ms(20), higher_peer(), 100);
    assert_eq!(
        actions,
        [
            changed(State::Master, State::Backup),
            Action::RemoveAddresses
        ]
    );
}

#[test]
fn ipv6_tie_break_compares_addresses_as_numbers() {
    let t0 = Instant::now();
    let ours: Ipv6Addr = "fe80::2".parse().unwrap();
    let theirs: IpAddr = "fe80::1:0".parse().unwrap();
    let config = InstanceConfig {
        addresses: Addresses::V6(vec!["2001:db8::10".parse().unwrap()]),
        primary_address: IpAddr::V6(ours),
        ..config(100)
    };
    let (mut instance, at) = master(config, t0);
    let advert = Advert {
        vrid: VRID,
        priority: 100,
        max_advert_interval: AdvertInterval::DEFAULT,
        addresses: Addresses::V6(vec!["2001:db8::10".parse().unwrap()]),
    };
    let destination = IpAddr::V6(GROUP_V6);
    let bytes = encode(&advert, theirs, destination).unwrap();
    // fe80::1:0 is the higher number, whatever the text suggests.
    let actions = instance.handle(
        at,
        Input::Packet {
            source: theirs,
            destination,
            ttl: 255,
            bytes: &bytes,
        },
    );
    assert_eq!(
        actions,
        [
            changed(State::Master, State::Backup),
            Action::RemoveAddresses
        ]
    );
}

#[test]
fn master_ignores_a_lower_priority_advert() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(200), t0);
    assert_eq!(receive(&mut instance, at + ms(10), higher_peer(), 100), []);
    assert_eq!(instance.state(), State::Master);
    assert_eq!(instance.poll_timeout(), Some(at + secs(1)));
}

#[test]
fn master_answers_priority_zero_at_once() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(100), t0);
    let actions = receive(&mut instance, at + ms(400), higher_peer(), PRIORITY_STOP);
    assert_eq!(sent_priorities(&actions), [100]);
    assert_eq!(instance.poll_timeout(), Some(at + ms(400) + secs(1)));
}

#[test]
fn stopping_master_sends_priority_zero_and_keeps_its_addresses_until_the_new_master_speaks() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(200), t0);
    let stop = at + ms(500);
    let actions = instance.handle(stop, Input::Shutdown);
    assert_eq!(actions[0], changed(State::Master, State::Initialize));
    assert_eq!(sent_priorities(&actions), [PRIORITY_STOP]);
    assert!(
        !actions.contains(&Action::RemoveAddresses),
        "addresses stay until the handover ends"
    );
    assert!(instance.status().holding_addresses);
    assert!(!instance.is_finished());
    // The backup takes over after its skew time and advertises: the addresses stay for the
    // grace (its gratuitous ARPs follow the advert), with no more priority-0 adverts.
    let heard = stop + ms(600);
    assert_eq!(receive(&mut instance, heard, higher_peer(), 100), []);
    assert_eq!(instance.poll_timeout(), Some(heard + HANDOVER_GRACE));
    assert_eq!(instance.handle_timeout(heard + HANDOVER_GRACE - ms(1)), []);
    assert_eq!(
        instance.handle_timeout(heard + HANDOVER_GRACE),
        [Action::RemoveAddresses]
    );
    assert!(instance.is_finished());
    assert_eq!(instance.poll_timeout(), None);
}

#[test]
fn handover_without_a_new_master_ends_after_a_master_down_interval() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(200), t0);
    instance.handle(at, Input::Shutdown);
    // Priority 0 repeated every interval while handing over (a lost one must not cost a backup
    // the full master-down interval).
    assert_eq!(
        sent_priorities(&instance.handle_timeout(at + secs(1))),
        [PRIORITY_STOP]
    );
    assert_eq!(
        sent_priorities(&instance.handle_timeout(at + secs(2))),
        [PRIORITY_STOP]
    );
    assert_eq!(
        sent_priorities(&instance.handle_timeout(at + secs(3))),
        [PRIORITY_STOP]
    );
    let end = at + master_down_interval(200, AdvertInterval::DEFAULT);
    assert_eq!(instance.handle_timeout(end - ms(1)), []);
    assert_eq!(instance.handle_timeout(end), [Action::RemoveAddresses]);
    assert!(instance.is_finished());
    assert_eq!(instance.poll_timeout(), None);
}

#[test]
fn a_priority_zero_advert_does_not_end_a_handover() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(200), t0);
    instance.handle(at, Input::Shutdown);
    assert_eq!(
        receive(&mut instance, at + ms(100), higher_peer(), PRIORITY_STOP),
        []
    );
    assert!(instance.status().holding_addresses);
}

#[test]
fn stopping_backup_stops_at_once() {
    let t0 = Instant::now();
    let mut instance = started(config(100), t0);
    let actions = instance.handle(t0 + secs(1), Input::Shutdown);
    assert_eq!(actions, [changed(State::Backup, State::Initialize)]);
    assert!(instance.is_finished());
    assert_eq!(instance.poll_timeout(), None);
    // A stopped instance does not start again.
    assert_eq!(instance.handle(t0 + secs(2), Input::Start), []);
}

#[test]
fn withdrawn_master_hands_over_and_stays_out_until_up() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(200), t0);
    let actions = instance.handle(at, Input::Health(Health::Withdraw));
    assert_eq!(actions[0], changed(State::Master, State::Fault));
    assert_eq!(sent_priorities(&actions), [PRIORITY_STOP]);
    assert!(instance.status().holding_addresses);
    assert_eq!(instance.status().priority, 0);
    assert_eq!(receive(&mut instance, at + ms(700), higher_peer(), 100), []);
    assert_eq!(
        instance.handle_timeout(at + ms(700) + HANDOVER_GRACE),
        [Action::RemoveAddresses]
    );
    // Out of the election: no timer, lower-priority masters do not tempt it.
    assert_eq!(instance.poll_timeout(), None);
    assert_eq!(receive(&mut instance, at + secs(2), higher_peer(), 1), []);
    assert!(!instance.is_finished(), "withdrawn is not stopped");
    let back = at + secs(3);
    let actions = instance.handle(back, Input::Health(Health::Up));
    assert_eq!(actions, [changed(State::Fault, State::Backup)]);
    assert_eq!(
        instance.poll_timeout(),
        Some(back + master_down_interval(200, AdvertInterval::DEFAULT))
    );
}

#[test]
fn up_again_during_a_handover_removes_the_addresses_at_once() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(200), t0);
    instance.handle(at, Input::Health(Health::Withdraw));
    let actions = instance.handle(at + ms(100), Input::Health(Health::Up));
    assert_eq!(
        actions,
        [
            Action::RemoveAddresses,
            changed(State::Fault, State::Backup)
        ]
    );
    assert_eq!(
        instance.poll_timeout(),
        Some(at + ms(100) + master_down_interval(200, AdvertInterval::DEFAULT))
    );
}

#[test]
fn stopping_while_withdrawn_finishes_the_handover_first() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(200), t0);
    instance.handle(at, Input::Health(Health::Withdraw));
    let actions = instance.handle(at + ms(100), Input::Shutdown);
    assert_eq!(actions, [changed(State::Fault, State::Initialize)]);
    assert!(!instance.is_finished(), "the addresses are still held");
    let end = at + master_down_interval(200, AdvertInterval::DEFAULT);
    assert_eq!(instance.handle_timeout(end), [Action::RemoveAddresses]);
    assert!(instance.is_finished());
    // Health no longer matters once stopping.
    assert_eq!(instance.handle(end, Input::Health(Health::Up)), []);
}

#[test]
fn withdrawn_backup_goes_to_fault_without_a_word() {
    let t0 = Instant::now();
    let mut instance = started(config(100), t0);
    let actions = instance.handle(t0 + secs(1), Input::Health(Health::Withdraw));
    assert_eq!(actions, [changed(State::Backup, State::Fault)]);
    assert_eq!(instance.poll_timeout(), None);
}

#[test]
fn a_master_that_loses_its_interface_forgets_its_addresses_and_goes_to_fault_silently() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(150), t0);
    let actions = instance.handle(at + ms(300), Input::InterfaceLost);
    assert_eq!(
        actions,
        [
            Action::RemoveAddresses,
            changed(State::Master, State::Fault)
        ]
    );
    assert!(!instance.status().holding_addresses);
    assert_eq!(instance.status().master, None);
    // No advert, no announcement, no handover timer: nothing is left to do on that link.
    assert_eq!(instance.poll_timeout(), None);
}

#[test]
fn a_backup_or_a_handing_over_master_that_loses_its_interface_goes_to_fault() {
    let t0 = Instant::now();
    let mut backup = started(config(100), t0);
    assert_eq!(
        backup.handle(t0 + secs(1), Input::InterfaceLost),
        [changed(State::Backup, State::Fault)]
    );
    assert_eq!(backup.poll_timeout(), None);

    let (mut handing_over, at) = master(config(150), t0);
    handing_over.handle(at + ms(100), Input::Health(Health::Withdraw));
    assert!(
        handing_over.status().holding_addresses,
        "kept during the handover"
    );
    assert_eq!(
        handing_over.handle(at + ms(200), Input::InterfaceLost),
        [Action::RemoveAddresses]
    );
    assert_eq!(handing_over.state(), State::Fault);
    assert_eq!(handing_over.poll_timeout(), None);
}

#[test]
fn an_instance_withdrawn_before_start_starts_in_fault() {
    let t0 = Instant::now();
    let mut instance = Instance::new(config(100)).unwrap();
    instance.handle(t0, Input::Health(Health::Withdraw));
    assert_eq!(
        instance.handle(t0, Input::Start),
        [changed(State::Initialize, State::Fault)]
    );
    assert_eq!(instance.poll_timeout(), None);
}

#[test]
fn demoted_master_advertises_its_lower_priority_at_once() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(150), t0);
    let actions = instance.handle(at + ms(300), Input::Health(Health::Demote(60)));
    assert_eq!(sent_priorities(&actions), [90]);
    assert_eq!(instance.status().priority, 90);
    assert_eq!(instance.state(), State::Master);
    assert_eq!(instance.poll_timeout(), Some(at + ms(300) + secs(1)));
    // A backup at 100 now outranks it.
    assert_eq!(
        receive(&mut instance, at + ms(400), lower_peer(), 100),
        [
            changed(State::Master, State::Backup),
            Action::RemoveAddresses
        ]
    );
    // The same demotion again changes nothing.
    assert_eq!(
        instance.handle(at + ms(500), Input::Health(Health::Demote(60))),
        []
    );
}

#[test]
fn demotion_never_reaches_priority_zero() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(50), t0);
    let actions = instance.handle(at, Input::Health(Health::Demote(200)));
    assert_eq!(sent_priorities(&actions), [1]);
}

#[test]
fn demoted_backup_waits_longer_before_taking_over() {
    let t0 = Instant::now();
    let mut instance = started(config(200), t0);
    instance.handle(t0, Input::Health(Health::Demote(100)));
    receive(&mut instance, t0 + secs(1), higher_peer(), 150);
    assert_eq!(
        instance.poll_timeout(),
        Some(t0 + secs(1) + master_down_interval(100, AdvertInterval::DEFAULT))
    );
}

#[test]
fn a_reloaded_priority_applies_without_a_restart() {
    let t0 = Instant::now();
    let (mut instance, at) = master(config(150), t0);
    // A master tells the backups at once, and stays master with its addresses.
    let actions = instance.handle(at + ms(200), Input::Priority(120));
    assert_eq!(sent_priorities(&actions), [120]);
    assert_eq!(instance.state(), State::Master);
    assert_eq!(instance.status().priority, 120);
    assert!(instance.status().holding_addresses);
    // A demotion counts from the new priority.
    let actions = instance.handle(at + ms(300), Input::Health(Health::Demote(30)));
    assert_eq!(sent_priorities(&actions), [90]);
    // 0 and 255 are no configured priorities: ignored.
    assert_eq!(instance.handle(at + ms(400), Input::Priority(0)), []);
    assert_eq!(instance.handle(at + ms(400), Input::Priority(255)), []);
    assert_eq!(instance.status().priority, 90);
    // A backup sends nothing; its next Master_Down_Interval uses the new priority.
    let mut backup = started(config(200), t0);
    assert_eq!(backup.handle(t0, Input::Priority(100)), []);
    receive(&mut backup, t0 + secs(1), higher_peer(), 150);
    assert_eq!(
        backup.poll_timeout(),
        Some(t0 + secs(1) + master_down_interval(100, AdvertInterval::DEFAULT))
    );
}

/// One advert mangled in some way, and the counter that must count it.
struct Mangled {
    what: &'static str,
    source: IpAddr,
    ttl: u8,
    bytes: Vec<u8>,
    counter: fn(&Discards) -> u64,
}

fn m(
    what: &'static str,
    source: IpAddr,
    ttl: u8,
    bytes: Vec<u8>,
    counter: fn(&Discards) -> u64,
) -> Mangled {
    Mangled {
        what,
        source,
        ttl,
        bytes,
        counter,
    }
}

fn mangled_adverts() -> Vec<Mangled> {
    let good = advert_bytes(higher_peer(), 200, AdvertInterval::DEFAULT);
    let refix = |mut bytes: Vec<u8>| {
        bytes[6..8].copy_from_slice(&[0, 0]);
        let sum = wire::checksum(higher_peer(), group(), &bytes);
        bytes[6..8].copy_from_slice(&sum.to_be_bytes());
        bytes
    };
    let mut version2 = good.clone();
    version2[0] = 0x21;
    let mut not_an_advert = good.clone();
    not_an_advert[0] = 0x32;
    let mut bad_sum = good.clone();
    bad_sum[7] ^= 0xff;
    let mut count = good.clone();
    count[3] = 2;
    let mut other_vrid = good.clone();
    other_vrid[1] = 52;
    let mut zero_interval = good.clone();
    zero_interval[4..6].copy_from_slice(&[0, 0]);
    vec![
        m("TTL 254", higher_peer(), 254, good.clone(), |d| d.ttl),
        m("version 2", higher_peer(), 255, refix(version2), |d| {
            d.version
        }),
        m("type 2", higher_peer(), 255, refix(not_an_advert), |d| {
            d.kind
        }),
        m("checksum", higher_peer(), 255, bad_sum, |d| d.checksum),
        m(
            "count 2, one address",
            higher_peer(),
            255,
            refix(count),
            |d| d.length,
        ),
        m("truncated", higher_peer(), 255, good[..6].to_vec(), |d| {
            d.length
        }),
        m("VRID 52", higher_peer(), 255, refix(other_vrid), |d| d.vrid),
        m(
            "interval 0",
            higher_peer(),
            255,
            refix(zero_interval),
            |d| d.interval,
        ),
        m(
            "our own",
            us(),
            255,
            advert_bytes(us(), 200, AdvertInterval::DEFAULT),
            |d| d.own,
        ),
    ]
}

#[test]
fn invalid_adverts_are_ignored_and_counted() {
    let t0 = Instant::now();
    for Mangled {
        what,
        source,
        ttl,
        bytes,
        counter,
    } in mangled_adverts()
    {
        for mut instance in [started(config(100), t0), master(config(100), t0).0] {
            let state = instance.state();
            let deadline = instance.poll_timeout();
            let master_before = instance.status().master;
            let actions = instance.handle(
                t0 + secs(5),
                Input::Packet {
                    source,
                    destination: group(),
                    ttl,
                    bytes: &bytes,
                },
            );
            assert_eq!(actions, [], "{what}");
            assert_eq!(instance.state(), state, "{what}");
            assert_eq!(instance.poll_timeout(), deadline, "{what}");
            assert_eq!(counter(&instance.status().discards), 1, "{what}");
            assert_eq!(instance.status().adverts_received, 0, "{what}");
            assert_eq!(instance.status().master, master_before, "{what}");
        }
    }
}

#[test]
fn adverts_of_the_other_family_are_another_virtual_router() {
    let t0 = Instant::now();
    let mut instance = started(config(100), t0);
    let source: IpAddr = "fe80::9".parse().unwrap();
    let destination = IpAddr::V6(GROUP_V6);
    let advert = Advert {
        vrid: VRID,
        priority: 200,
        max_advert_interval: AdvertInterval::DEFAULT,
        addresses: Addresses::V6(vec!["2001:db8::10".parse().unwrap()]),
    };
    let bytes = encode(&advert, source, destination).unwrap();
    instance.handle(
        t0,
        Input::Packet {
            source,
            destination,
            ttl: 255,
            bytes: &bytes,
        },
    );
    assert_eq!(instance.status().discards.vrid, 1);
}

#[test]
fn a_different_address_list_is_counted_but_obeyed() {
    let t0 = Instant::now();
    let mut instance = started(config(100), t0);
    let advert = Advert {
        vrid: VRID,
        priority: 200,
        max_advert_interval: AdvertInterval::DEFAULT,
        addresses: Addresses::V4(vec![Ipv4Addr::new(198, 51, 100, 99)]),
    };
    let bytes = encode(&advert, higher_peer(), group()).unwrap();
    instance.handle(
        t0 + secs(1),
        Input::Packet {
            source: higher_peer(),
            destination: group(),
            ttl: 255,
            bytes: &bytes,
        },
    );
    assert_eq!(instance.status().address_mismatches, 1);
    assert_eq!(
        instance.poll_timeout(),
        Some(t0 + secs(1) + master_down_interval(100, AdvertInterval::DEFAULT))
    );
}

#[test]
fn keepalived_advert_is_understood() {
    // keepalived's own advert (src/vrrp/testdata): VRID 51, priority 150, two addresses.
    let packet = include_bytes!("../testdata/ipv4-vrid51-prio150.bin");
    let keepalived: IpAddr = "192.0.2.1".parse().unwrap();
    let mut instance = started(
        InstanceConfig {
            primary_address: "192.0.2.2".parse().unwrap(),
            addresses: Addresses::V4(vec![
                Ipv4Addr::new(198, 51, 100, 11),
                Ipv4Addr::new(198, 51, 100, 10),
            ]),
            ..config(100)
        },
        Instant::now(),
    );
    let t = Instant::now() + secs(1);
    instance.handle(
        t,
        Input::Packet {
            source: keepalived,
            destination: group(),
            ttl: packet[8],
            bytes: &packet[20..],
        },
    );
    assert_eq!(instance.status().master, Some((keepalived, 150)));
    assert_eq!(instance.status().address_mismatches, 0);
    assert_eq!(instance.status().adverts_received, 1);
}

#[test]
fn unicast_peers_get_one_advert_each_and_are_the_only_sources_heard() {
    let t0 = Instant::now();
    let peers: Vec<IpAddr> = vec!["192.0.2.7".parse().unwrap(), "192.0.2.8".parse().unwrap()];
    let (mut instance, at) = master(
        InstanceConfig {
            unicast_peers: peers.clone(),
            ..config(100)
        },
        t0,
    );
    let actions = instance.handle_timeout(at + secs(1));
    let adverts = sent(&actions, us());
    assert_eq!(adverts.iter().map(|(to, _)| *to).collect::<Vec<_>>(), peers);
    // The checksum covers each destination: the two packets differ.
    let bytes: Vec<&Vec<u8>> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { bytes, .. } => Some(bytes),
            _ => None,
        })
        .collect();
    assert_ne!(bytes[0], bytes[1]);
    // A stranger with a higher priority is not obeyed.
    assert_eq!(
        receive(&mut instance, at + ms(1500), higher_peer(), 250),
        []
    );
    assert_eq!(instance.status().discards.source, 1);
    assert_eq!(instance.state(), State::Master);
}

#[test]
fn ipv6_adverts_carry_the_link_local_address_first() {
    let t0 = Instant::now();
    let link_local: Ipv6Addr = "fe80::200:5eff:fe00:5301".parse().unwrap();
    let vip: Ipv6Addr = "2001:db8::10".parse().unwrap();
    let config = InstanceConfig {
        addresses: Addresses::V6(vec![vip]),
        primary_address: IpAddr::V6(link_local),
        link_local: Some(link_local),
        ..config(100)
    };
    let (_, at) = master(config.clone(), t0);
    let mut instance = started(config, t0);
    let actions = instance.handle_timeout(at);
    let adverts = sent(&actions, IpAddr::V6(link_local));
    assert_eq!(adverts[0].0, IpAddr::V6(GROUP_V6));
    assert_eq!(adverts[0].1.addresses, Addresses::V6(vec![link_local, vip]));
}

#[test]
fn configurations_that_cannot_work_are_refused() {
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    let cases = [
        (
            InstanceConfig {
                vrid: 0,
                ..config(100)
            },
            ConfigError::Vrid,
        ),
        (config(0), ConfigError::Priority(0)),
        (config(255), ConfigError::Priority(255)),
        (
            InstanceConfig {
                addresses: Addresses::V4(vec![]),
                ..config(100)
            },
            ConfigError::AddressCount(0),
        ),
        (
            InstanceConfig {
                primary_address: v6,
                ..config(100)
            },
            ConfigError::Family(v6),
        ),
        (
            InstanceConfig {
                unicast_peers: vec![v6],
                ..config(100)
            },
            ConfigError::Family(v6),
        ),
        (
            InstanceConfig {
                link_local: Some("fe80::1".parse().unwrap()),
                ..config(100)
            },
            ConfigError::Family("fe80::1".parse().unwrap()),
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(Instance::new(config).unwrap_err(), expected);
    }
    assert!(ConfigError::Priority(255).to_string().contains("owner"));
}

/// Two instances on one link: every advert one sends, the other receives at the same instant.
/// The clock jumps to the earlier deadline; bounded in steps.
struct Pair {
    now: Instant,
    routers: [Instance; 2],
}

impl Pair {
    fn new(now: Instant, a: InstanceConfig, b: InstanceConfig) -> Pair {
        let mut pair = Pair {
            now,
            routers: [Instance::new(a).unwrap(), Instance::new(b).unwrap()],
        };
        for i in 0..2 {
            let actions = pair.routers[i].handle(now, Input::Start);
            pair.deliver(i, actions);
        }
        pair
    }

    fn deliver(&mut self, from: usize, actions: Vec<Action>) {
        let source = self.routers[from].config().primary_address;
        for action in actions {
            if let Action::Send { to, bytes } = action {
                let replies = self.routers[1 - from].handle(
                    self.now,
                    Input::Packet {
                        source,
                        destination: to,
                        ttl: 255,
                        bytes: &bytes,
                    },
                );
                self.deliver(1 - from, replies);
            }
        }
    }

    fn input(&mut self, i: usize, input: Input<'_>) {
        let actions = self.routers[i].handle(self.now, input);
        self.deliver(i, actions);
    }

    /// Runs the timers until `until` (at most 1000 steps).
    fn run(&mut self, until: Instant) {
        for _ in 0..1000 {
            let next = self.routers.iter().filter_map(Instance::poll_timeout).min();
            match next {
                Some(t) if t <= until => {
                    self.now = t;
                    // Both routers act first, then their packets cross on the wire.
                    let actions = [0, 1].map(|i| self.routers[i].handle_timeout(t));
                    for (i, actions) in actions.into_iter().enumerate() {
                        self.deliver(i, actions);
                    }
                }
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
        panic!("still busy after 1000 steps");
    }

    /// Routers a (192.0.2.1) and b (192.0.2.2) at these priorities, otherwise [`config`]'s.
    fn with_priorities(t0: Instant, a: u8, b: u8) -> Pair {
        let at = |address: &str, priority: u8| InstanceConfig {
            primary_address: address.parse().unwrap(),
            ..config(priority)
        };
        Pair::new(t0, at("192.0.2.1", a), at("192.0.2.2", b))
    }

    fn states(&self) -> [State; 2] {
        [self.routers[0].state(), self.routers[1].state()]
    }
}

#[test]
fn two_routers_elect_the_higher_priority_and_hand_over_on_stop() {
    let t0 = Instant::now();
    let mut pair = Pair::with_priorities(t0, 200, 100);
    pair.run(t0 + secs(10));
    assert_eq!(pair.states(), [State::Master, State::Backup]);
    assert!(pair.routers[0].status().holding_addresses);
    assert!(!pair.routers[1].status().holding_addresses);
    pair.input(0, Input::Shutdown);
    // A still holds the addresses until B has taken over (after B's skew time).
    assert!(pair.routers[0].status().holding_addresses);
    pair.run(pair.now + secs(1));
    assert_eq!(pair.states(), [State::Initialize, State::Master]);
    assert!(pair.routers[0].is_finished());
    assert!(pair.routers[1].status().holding_addresses);
}

/// Both start at once, so both become master at the same instant; their adverts cross.
#[test]
fn two_routers_with_equal_priority_elect_the_higher_address() {
    let t0 = Instant::now();
    let mut pair = Pair::with_priorities(t0, 100, 100);
    pair.run(t0 + secs(10));
    assert_eq!(pair.states(), [State::Backup, State::Master]);
}

#[test]
fn a_recovered_higher_priority_router_preempts_back() {
    let t0 = Instant::now();
    let mut pair = Pair::with_priorities(t0, 200, 100);
    pair.run(t0 + secs(10));
    pair.input(0, Input::Health(Health::Withdraw));
    pair.run(pair.now + secs(5));
    assert_eq!(pair.states(), [State::Fault, State::Master]);
    assert!(!pair.routers[0].status().holding_addresses);
    pair.input(0, Input::Health(Health::Up));
    pair.run(pair.now + secs(10));
    assert_eq!(pair.states(), [State::Master, State::Backup]);
    assert!(!pair.routers[1].status().holding_addresses);
}
