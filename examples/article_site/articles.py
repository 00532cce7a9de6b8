"""The articles of the demo newspaper, kept as data so the site needs no database.

The Harbourton Courier and its city are fictional; the pieces on defence, sleep
science and data-protection enforcement describe real institutions and research,
written as a sober newspaper would, without quotes put in real people's mouths.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .cookie_policy import HARBOURTON_VIDEO, VISTALINE_VIDEO


@dataclass(frozen=True)
class Video:
    """An embedded video: the player is a third-party iframe, gated by the `media` category
    and named by its service, which a visitor may allow alone."""

    title: str
    caption: str
    service: str
    """The key of the video service that plays it (see `cookie_policy`)."""
    player: str
    """The player's path on the third-party server, as the service's embed code gives it."""


@dataclass(frozen=True)
class Article:
    """One published article."""

    slug: str
    title: str
    standfirst: str
    author: str
    published: date
    body: tuple[str, ...]
    tags: tuple[str, ...]
    video: Video | None = None

    @property
    def word_count(self) -> int:
        """Words in the body, for the reading-time line."""
        return sum(len(paragraph.split()) for paragraph in self.body)

    @property
    def reading_minutes(self) -> int:
        """Rounded reading time at an unhurried 230 words a minute."""
        return max(1, round(self.word_count / 230))


def _paragraphs(text: str) -> tuple[str, ...]:
    """Split text on blank lines and unwrap each block into one paragraph.

    The bodies below are wrapped to the source line length; this keeps them
    readable to edit without putting line breaks into the rendered prose.
    """
    blocks = (block.split() for block in text.strip().split("\n\n"))
    return tuple(" ".join(words) for words in blocks if words)


US_JAPAN = Article(
    slug="us-japan-joint-command-upgrade",
    title="Allies rewire the chain of command as Tokyo and Washington deepen defence ties",
    standfirst=(
        "A new agreement gives US Forces Japan real operational authority beside Japan's "
        "young Joint Operations Command, and commits both countries to building more "
        "missiles together. It is the biggest change to the alliance's machinery in decades."
    ),
    author="Naomi Kerr",
    published=date(2026, 4, 14),
    tags=("World", "Defence", "Analysis"),
    body=_paragraphs(
        """
        For most of the 66 years since the present security treaty was signed, the alliance
        between Japan and the United States has rested on an arrangement that planners on both
        sides privately describe as lopsided. American forces stationed in Japan answered to
        Indo-Pacific Command in Hawaii, several time zones away. US Forces Japan, the
        headquarters at Yokota Air Base in Tokyo's western suburbs, administered bases and
        handled relations with the host government, but commanded very little. Japan's
        Self-Defense Forces, for their part, had no standing joint headquarters at all until
        March 2025. The agreement concluded this week by the two governments' foreign and
        defence ministers sets out to change both halves of that picture.

        Its core is a commitment to finish, on a fixed timetable, the upgrade of US Forces
        Japan into a joint force headquarters that Washington first announced in July 2024.
        The command will gain the staff and the authority to plan operations and, in a
        crisis, to direct American air, naval and ground forces in and around Japan. Its
        counterpart is the Japan Joint Operations Command, the headquarters set up at the
        defence ministry in Ichigaya to command all three branches of the Self-Defense Forces
        at once. Until now, officers at Ichigaya who wanted an answer from the American side
        often had to wait for one to come back from Hawaii.

        It is worth being precise about what the agreement does not do. There is no combined
        command of the kind that exists on the Korean peninsula, where an American general
        would lead allied forces in wartime. Japanese forces stay under Japanese command, as
        the constitution and domestic politics require. What changes is the machinery of
        coordination: liaison officers embedded in each other's headquarters, a shared
        operational picture, joint planning cells that meet continuously rather than for
        annual exercises, and a direct line between two commanders who can each decide
        things.

        The second strand is industrial. Japan loosened its rules on defence exports in
        December 2023, which allowed it to ship Patriot PAC-3 interceptors built under
        licence in Japan back to the United States, whose own stocks had been drawn down by
        deliveries to Ukraine. In 2024 the allies created a forum for defence industrial
        cooperation and agreed to explore producing AMRAAM air-to-air missiles and the newer
        PAC-3 MSE interceptor together. This week's agreement turns exploration into
        commitments, with production targets that have not been made public. The two
        countries already share one missile: the SM-3 Block IIA interceptor was developed
        jointly by Japanese and American manufacturers and entered service with both navies.

        In Tokyo the government presents the package as the logical next step after the
        three strategy documents of December 2022, which committed Japan to raising defence
        spending towards 2 per cent of gross domestic product by 2027 and to acquiring
        counterstrike missiles, including American Tomahawks. A senior defence ministry
        official told reporters that the new command link was about speed: in a fast-moving
        crisis, the official said, minutes lost to relaying questions through Hawaii would
        matter. Opposition parties have asked for a full debate in the Diet, arguing that
        closer integration makes it harder for Japan to stay out of a conflict it did not
        choose, particularly one over Taiwan.

        Local reactions are sharper. Okinawa, which hosts roughly 70 per cent of the land
        used exclusively by American forces in Japan, has long argued that the alliance's
        costs fall unevenly. Prefectural officials said they had not been consulted on
        whether the new headquarters arrangements would bring more personnel or aircraft to
        the island, and asked for written assurances. The defence ministry says the changes
        concern command and staff functions, not the number of troops stationed in Japan.

        In Washington the agreement has drawn support from both parties in Congress, where
        concern about the pace of munitions production has grown since 2022. Co-production in
        Japan adds factory capacity that American plants cannot supply quickly. The friction
        is over money: the joint force headquarters needs new staff and communications, and
        some in Congress want allies to carry more of the cost of American forces abroad.
        That argument will come into the open this year, because the current agreement on
        Japan's host-nation support expires in March 2027 and must be renegotiated.

        The arrangements rest on a treaty that was itself born in controversy. The Treaty of
        Mutual Cooperation and Security, signed in Washington in January 1960, replaced a 1951
        pact that had allowed American forces to stay in Japan after the occupation without
        any clear obligation to defend it. Its ratification provoked the largest protests in
        postwar Japanese history and cost Prime Minister Nobusuke Kishi his office. Article 5
        commits each country to act against an armed attack on territories under Japanese
        administration; Article 6 grants the United States the use of bases in Japan for the
        security of Japan and for peace and security in the Far East. The bargain was
        asymmetric from the start: American protection in exchange for bases.

        That asymmetry has been narrowing for a decade. Security legislation passed in 2015
        allows Japan to exercise collective self-defence in tightly defined circumstances,
        and the 2022 strategy gave it weapons able to strike at long range. The command
        upgrade is the organisational consequence: a Japan that can do more needs an ally it
        can plan with in real time. Whether the new machinery works will depend on less
        visible things, above all on whether the two sides can share intelligence quickly
        under Japan's new security clearance system, and on whether Washington funds the
        headquarters it has promised. Those are the tests to watch over the coming year.
        """
    ),
)


TRAM = Article(
    slug="council-approves-eastside-tram",
    title="Council approves eastside tram line after an eight-hour debate",
    standfirst=(
        "Harbourton's councillors voted 31 to 24 for a 9.4-kilometre line from Central "
        "Station to the hospital. Supporters call it the city's most important transport "
        "decision in a generation; traders on Quay Street fear years of disruption."
    ),
    author="Tom Achterberg",
    published=date(2026, 4, 9),
    tags=("Harbourton", "Transport", "Council"),
    video=Video(
        title="Riding the route: the planned eastside tram line",
        caption="A three-minute animation of the route, stop by stop, from the council.",
        service=HARBOURTON_VIDEO,
        player="video.html",
    ),
    body=_paragraphs(
        """
        Harbourton will build its first tram line in more than sixty years after the city
        council approved the eastside scheme late on Wednesday night, by 31 votes to 24,
        at the end of a debate that began at four in the afternoon and ran past midnight.
        The vote commits the council to a line of 9.4 kilometres with 14 stops, running from
        Central Station along Quay Street and the Eastfield Road to the Eastfield estate and
        the General Hospital.

        The council's estimate puts the cost at 412 million pounds, of which the national
        transport fund has provisionally agreed to pay 60 per cent. The rest would come from
        borrowing repaid out of fares, a levy on new developments within 800 metres of a
        stop, and the sale of the council's bus depot on Mill Lane, which the tram would
        make redundant. Work on diverting pipes and cables could begin in late 2027, with
        the first passengers carried in 2031 if the national government approves the full
        business case next year.

        The case for the line rests on the buses it would replace. The number 4 and number
        7 routes along the Eastfield Road are the busiest in the city, and at peak times
        they run so close together that they bunch and arrive in pairs. A journey from the
        hospital to Central Station is timetabled at 41 minutes by bus in the morning peak;
        the tram, running on its own tracks for most of the route and given priority at
        junctions, is forecast to take 24. Officers told the council that the line would
        carry around 38,000 trips on an average weekday in its first full year.

        The council's cabinet member for transport, opening the debate, said that the
        eastern half of the city had waited too long for a reliable way into the centre,
        and that a tram was the only option that would also shape where new homes were
        built. The Eastfield estate, home to about 22,000 people, has the lowest rate of car
        ownership in Harbourton; almost half of its households have no car.

        Opponents did not dispute the congestion. Their argument was about risk. The leader
        of the largest opposition group pointed to the public inquiry into Edinburgh's tram,
        which opened in 2014 years late and far over its budget, and asked what would
        happen if Harbourton's costs rose by a third. The scheme's contingency of 18 per cent,
        he argued, was optimistic for a city that had not built a railway of any kind in
        living memory. Several members proposed a bus rapid transit scheme instead, at
        roughly half the cost, with dedicated lanes along the same corridor.

        Council officers replied that bus lanes on the Eastfield Road had been tried twice,
        in 2009 and 2017, and twice abandoned after complaints about loading and parking,
        and that a bus scheme would not attract the national grant, which is reserved for
        projects that add capacity on a fixed route. They also said the cost estimate had
        been reviewed by an independent firm and now included a contract structure in which
        the builder carries part of the risk of overruns on the track work.

        The sharpest objections came from Quay Street. The Quay Street Traders' Association
        presented a petition with 3,200 signatures asking for the route to be moved one
        block north, to Harbour Road, so that the shopping street would not be dug up. Its
        chair told councillors that many businesses on the street operate on thin margins
        and could not survive a year of barriers outside their doors. The council has
        promised a compensation scheme for loss of trade during construction and says the
        street will be built in sections of no more than 200 metres at a time, but the
        details of the scheme will not be settled until next year.

        Officers said the Harbour Road alternative would cost an extra 35 million pounds
        because of a sewer that runs beneath it, and would put the stop further from the
        market and the shops that most passengers are expected to use. The council also
        voted, by a larger majority, for an amendment requiring a monthly public report on
        spending and progress once construction starts.

        What happens next is slower. The council must now prepare the full business case for
        the national transport fund, apply for the legal powers to build and operate the
        line, and run a procurement for the construction contract and the trams themselves.
        Each stage gives opponents a further chance to object, and the opposition group has
        said it will ask the national government to call the scheme in. For now, though, the
        line has the one thing it lacked for three decades of studies and false starts: a
        decision.
        """
    ),
)


SLEEP = Article(
    slug="science-of-sleep",
    title="Why we sleep: what the science knows, and what it is still arguing about",
    standfirst=(
        "Sleep research has moved from counting hours to measuring what happens inside the "
        "sleeping brain. Some answers are now solid; others, including a celebrated theory "
        "about cleaning the brain at night, are being tested again."
    ),
    author="Dr Priya Raman",
    published=date(2026, 3, 30),
    tags=("Science", "Health"),
    body=_paragraphs(
        """
        Every animal with a nervous system that scientists have studied closely appears to
        sleep, or to do something that looks very like it, from fruit flies to jellyfish.
        That alone tells researchers that sleep must do something important: an animal that
        is unconscious for hours each day is easy prey, and evolution would not keep such a
        costly habit without a reason. What that reason is has turned out to be one of the
        harder questions in biology, and the honest answer is that there are several.

        The most durable framework for how sleep is timed is the two-process model, proposed
        in 1982 and still taught today. The first process is sleep pressure, which builds the
        longer we are awake and is discharged by sleep. One of the chemical signals behind it
        is adenosine, a by-product of the brain's energy use that accumulates during the day.
        Caffeine works largely by blocking the receptors that adenosine acts on, which is
        why coffee masks tiredness without removing its cause. In healthy adults, half of a
        dose of caffeine is still in the blood around five hours later, although the figure
        varies widely between people, so an afternoon coffee can still be at work at
        bedtime.

        The second process is the circadian clock, a roughly 24-hour rhythm run by a small
        cluster of cells in the hypothalamus and set each day mainly by light entering the
        eyes. In the evening, as light fades, the pineal gland releases melatonin, which
        signals night to the rest of the body. Bright light late in the evening, including
        from screens held close to the face, delays that signal. The two processes normally
        line up: pressure is high and the clock says night at about the same time. Jet lag
        and shift work are what happens when they do not.

        Sleep itself is not one state. Over a night, the brain moves through cycles of about
        90 minutes, each passing through lighter and deeper stages of non-rapid eye movement
        sleep before a period of rapid eye movement, or REM, sleep, when most vivid dreaming
        happens and the muscles of the body are largely paralysed. Deep, slow-wave sleep is
        concentrated early in the night; REM periods grow longer towards morning. That is one
        reason a short night does not simply remove a slice of every kind of sleep: cutting
        the last two hours removes a disproportionate share of REM.

        The evidence that sleep matters for memory is strong. In experiments, people who
        sleep after learning a task or a list of words remember it better than people who
        spend the same time awake, and recordings show that patterns of activity from the
        day are replayed during deep sleep. Sleep loss also has measurable effects on
        attention, mood and the regulation of blood sugar. Large population studies link
        habitually short sleep with higher risks of obesity, diabetes and heart disease,
        although in studies of that kind it is hard to separate cause from effect, because
        illness and stress also disturb sleep.

        The most famous recent idea about why we sleep is also the one now under the closest
        scrutiny. In 2013 a study in mice reported that the space between brain cells widened
        during sleep, letting fluid flow through the tissue and wash out waste products,
        including the proteins that clump together in Alzheimer's disease. The proposed
        mechanism, named the glymphatic system, was widely reported as the discovery that
        the brain cleans itself at night. In 2024, however, another group using different
        methods reported that clearance of a dye from the mouse brain was lower during sleep
        and anaesthesia, not higher. The disagreement is partly about technique, and work in
        humans is still at an early stage. It is a live scientific dispute, which is how the
        question should be described until it is settled.

        For individuals, the practical advice is less contested. Professional bodies such as the
        American Academy of Sleep Medicine recommend that adults sleep at least seven hours a
        night on a regular basis, and teenagers more. Teenagers also tend to become sleepy later
        in the evening, a shift in the body clock rather than a failure of discipline, which is
        why paediatricians in several countries have argued for school days that do not start
        too early. Regular times for going to bed and getting up, daylight in the morning, and a
        dark, cool bedroom help the clock and the pressure line up.

        For people with chronic insomnia, the first recommended treatment in clinical
        guidelines is not a pill but cognitive behavioural therapy for insomnia, a structured
        programme that includes restricting time in bed to the time actually spent asleep
        and then extending it gradually. It is effective for many patients and its benefits
        tend to last after treatment ends. Sleeping pills can help in the short term but are
        generally advised only for brief periods.

        More than a century after the first recordings of the sleeping brain, researchers
        can describe what happens during sleep in considerable detail. Why it evolved, and
        whether it serves one purpose or many, remains open. The likeliest answer, many in
        the field now think, is that sleep is not for one thing at all.
        """
    ),
)


COOKIE_ENFORCEMENT = Article(
    slug="europe-cookie-banner-enforcement",
    title="Reject must be as easy as accept: how Europe's regulators took on the cookie banner",
    standfirst=(
        "For years the refusal button was hidden a click or two away. Since 2020, French "
        "fines running to hundreds of millions of euros and a coordinated review by "
        "Europe's data-protection authorities have changed what a lawful banner looks like."
    ),
    author="Lena Vogt",
    published=date(2026, 3, 22),
    tags=("Technology", "Privacy", "Europe"),
    body=_paragraphs(
        """
        Anyone who browses the web in Europe knows the cookie banner. Fewer people know that
        the rules behind it are older than the banners themselves, and that the design most
        visitors have learned to click through, a large Accept button next to a small link
        to more settings, has been ruled unlawful by regulators for years.

        The legal basis is the ePrivacy Directive of 2002, amended in 2009. Its Article 5(3)
        requires consent before information is stored on, or read from, a user's device,
        unless that is strictly necessary to provide a service the user has asked for. Since
        2018, consent has had the meaning given to it by the General Data Protection
        Regulation: freely given, specific, informed and unambiguous, expressed by a clear
        affirmative act. In its Planet49 judgment of October 2019, the Court of Justice of the
        European Union held that a pre-ticked checkbox does not meet that standard. Silence,
        inactivity and continuing to browse do not count either.

        For a long time enforcement was slow. The regulator that changed that was France's
        CNIL. It published new guidelines and a recommendation on cookies in October 2020,
        gave websites until the end of March 2021 to comply, and then began to check. Its
        recommendation made one point that banner designers had avoided: refusing should be
        as easy as accepting, ideally with a button of the same size and prominence on the
        first screen the user sees.

        The fines that followed were large. In December 2020 the CNIL fined Google a total
        of 100 million euros and Amazon 35 million euros for placing advertising cookies
        without prior consent. At the end of 2021 it fined Google 150 million euros and
        Facebook 60 million euros because, on their sites, accepting cookies took a single
        click while refusing took several. Microsoft was fined 60 million euros in December
        2022 over its Bing search engine, and TikTok 5 million euros in early 2023 for
        making refusal harder than acceptance. In September 2025 the CNIL imposed two more
        of its largest penalties, on Google and on the online retailer Shein, both involving
        cookies.

        The CNIL can act on these cases directly because cookie rules come from the ePrivacy
        Directive, as transposed into French law, rather than from the GDPR alone. The
        GDPR's one-stop-shop mechanism, which would normally send a complaint about a
        company established in Ireland to the Irish regulator, does not apply to them.
        France's highest administrative court has upheld that reading.

        Across the European Union, pressure came from complaints. In 2021 the privacy group
        noyb filed hundreds of complaints about cookie banners with regulators in several
        countries, generated after an automated review of popular websites. To avoid
        reaching different conclusions about identical banners, the European Data
        Protection Board set up a Cookie Banner Taskforce in September 2021. Its report,
        adopted in January 2023, recorded the positions on which the national authorities
        agreed.

        Most authorities in the taskforce considered that a banner which offers an accept
        button on its first layer but no button to refuse breaks the rules. Pre-ticked
        boxes for optional purposes are not valid. A reject option hidden in a link within
        a paragraph of text, or presented so that it does not look clickable, can mislead
        users. Button colours and contrast that push people towards accepting are assessed
        case by case, but a reject button that is barely readable against its background is
        plainly a problem. Sites cannot rely on legitimate interest instead of consent for
        cookies that need consent, and labelling tracking cookies as essential does not make
        them so. Users should also be able to withdraw consent easily at any time, for
        example through a small, permanently visible icon that reopens the settings.

        The rules do not stop at cookies. In guidelines on the technical scope of Article
        5(3), finalised in 2024, the board said that tracking pixels, tracking links and
        similar techniques that gain access to information on a user's device fall within
        the same requirement. A banner that politely waits for consent while an invisible
        image quietly reports the visit to an advertising network does not comply.

        Research on real websites suggests that compliance remains uneven. Studies have
        repeatedly found banners that record a choice but set tracking cookies anyway, or
        that set them before the visitor has decided. That is partly because many banners
        are scripts that run in the browser after the page has already loaded other
        scripts, and partly because cookies set by the server itself are invisible to such
        scripts.

        The next change may come from Brussels. Proposals under discussion in the European
        Union would let browsers send a user's standing choice automatically, reducing the
        number of banners people see, and would bring the cookie rules closer to the GDPR.
        Until any such change is agreed and in force, the regulators' message is
        unchanged: no tracking before a clear yes, and a no that costs no more effort than
        a yes.
        """
    ),
)


MARKET = Article(
    slug="quay-street-saturday-market",
    title="Forty years of Saturdays: the market that feeds Quay Street",
    standfirst=(
        "Sixty-one stalls, one tarmac car park and a queue for bread that starts before "
        "seven. The Quay Street market has outlived two supermarkets and a recession; the "
        "tram works may be its next test."
    ),
    author="Grace Obi",
    published=date(2026, 4, 11),
    tags=("Harbourton", "Food", "Feature"),
    video=Video(
        title="At the market: a Saturday morning on Quay Street",
        caption="Filmed from the first deliveries at 5.30 to the last sale of the day.",
        service=VISTALINE_VIDEO,
        player="vistaline.html",
    ),
    body=_paragraphs(
        """
        At half past five on a Saturday morning, the car park behind the old customs house
        on Quay Street is dark, wet and nearly silent. By seven it holds sixty-one stalls,
        two coffee vans and a queue of about thirty people waiting for the bakery stall
        to open its shutter. By ten, on a dry day, around four thousand people will have
        passed through. The Quay Street market has been doing this every Saturday, with a
        handful of exceptions for snow and one for a burst water main, since the spring of
        1986.

        It began as a trial. The council, which owns the car park, agreed to let a dozen
        growers from the valley farms sell directly to the public for six months, partly to
        bring people back to a street that had been losing shops since the port moved its
        container traffic downriver. The trial was never formally extended. It simply
        carried on, and the council has renewed the market's licence every three years
        since.

        The rules have barely changed. Stallholders must sell what they grow, raise, catch,
        bake or make themselves, and most of it must come from within 50 miles of the city.
        The market committee, made up of six traders elected each year, inspects new
        applicants' farms and kitchens before granting a pitch. There is a waiting list of
        about twenty. A pitch costs 38 pounds a day, a figure the committee last raised in
        2022, when the council increased its charge for cleaning the car park.

        The longest-serving trader is a cheesemaker from the hills above Ashby, who has held
        the same pitch, next to the old weighbridge, since the second year. She makes two
        hard cheeses and a soft one from the milk of her own herd of about forty cows, and
        sells most of what she makes here and at one other market. Her regular customers, she
        says, now include the grandchildren of her first ones. The price of a kilo of her
        best cheese has risen faster than most things in the past four years, because feed
        and energy have, and she has lost a few customers as a result, but not many.

        Newer arrivals have changed the market's character without replacing it. There is a
        stall selling dumplings made by a family who came to Harbourton twelve years ago, a
        small brewery from the industrial estate by the ring road, and a young grower who
        farms less than a hectare on council allotments and sells salad leaves, herbs and
        edible flowers to restaurants as well as to the public. The fish stall, which buys
        from two boats that still land at the harbour, sells out most weeks before eleven.

        The market has outlasted competitors that looked more permanent. A large supermarket
        opened on the edge of the city in 1994, and another in the centre in 2003; the second
        closed in 2019. Traders say the market survived both because it offers things the
        supermarkets do not, and because it is a social occasion as much as a shopping trip.
        On a Saturday morning it is common to see people who have bought nothing at all,
        standing with a coffee and talking.

        That does not mean trade is easy. The cost-of-living squeeze of recent years hit the
        market's spending per visitor, traders say, even as visitor numbers held up, and
        several stallholders now also sell online or through weekly vegetable boxes. Card
        payments, which almost no stall accepted in 2015, are now taken by all but three.
        Power for the stalls comes from a supply point the council installed in 2021, which
        replaced the diesel generators that used to run on the north side of the car park.

        The next test is the tram. The eastside line approved by the council this week runs
        along Quay Street, and the market's car park would be used as a works compound for
        part of the construction period under the current plans. The market committee has
        asked the council for a written guarantee that the market can move, as a whole, to
        the pedestrianised square by the customs house for the duration of the works, and
        return afterwards. Council officers say they intend to keep the market running
        throughout and will publish a plan before construction begins.

        Traders are cautiously hopeful. A tram stop a few metres from the market entrance
        could bring new customers from the eastern estates, most of whom do not own a car
        and rarely make the trip on Saturday mornings now. The committee's chair, a
        vegetable grower who has had a pitch since 2004, puts it simply: the market has
        survived everything else the city has tried, and the traders intend to be here when
        the first tram arrives.
        """
    ),
)


ARTICLES: tuple[Article, ...] = tuple(
    sorted(
        (US_JAPAN, TRAM, SLEEP, COOKIE_ENFORCEMENT, MARKET),
        key=lambda article: article.published,
        reverse=True,
    )
)
"""Every article, newest first."""

_BY_SLUG = {article.slug: article for article in ARTICLES}


def find_article(slug: str) -> Article | None:
    """The article with this slug, or None when there is none."""
    return _BY_SLUG.get(slug)
