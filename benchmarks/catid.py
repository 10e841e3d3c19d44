"""UCS CatID suggestions (engine.ucs.suggest) on realistic effect prompts, each with the CatID
a sound editor would file it under: top-1 and top-3 accuracy (issue 14's target: top-3 ≥ 80 %),
and the misses. Offline, a second or so.

    .venv/bin/python benchmarks/catid.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import ucs  # noqa: E402

PROMPTS = {  # prompt → the CatID it belongs under
    "heavy wooden door slam": "DOORWood",
    "creaky old door opening slowly": "DOORCreak",
    "sliding glass door": "DOORGlas",
    "knock knock on a front door": "DOORKnck",
    "metal prison cell door clang": "DOORPrisn",
    "rain on a tin roof": "RAINMetl",
    "rain hitting a car windshield glass": "RAINGlas",
    "distant thunder rumble": "THUN",
    "strong wind gusts": "WINDGust",
    "wind through the trees and leaves": "WINDVege",
    "footsteps on gravel, man walking": "FEETHmn",
    "horse hooves galloping": "FEETHors",
    "dog barking in a yard": "ANMLDog",
    "cat meowing": "ANMLCat",
    "wolf howling at night": "ANMLWdog",
    "crow caws": "BIRDCrow",
    "songbirds singing at dawn": "BIRDSong",
    "seagulls by the harbour": "BIRDSea",
    "forest ambience with birds": "AMBForst",
    "busy city street traffic": "AMBTraf",
    "restaurant ambience, cutlery and chatter": "AMBRest",
    "hospital corridor room tone": "AMBHosp",
    "underwater ambience": "AMBUndwtr",
    "glass bottle shatter": "GLASBrk",
    "wine glasses clink": "GLASImpt",
    "metal pipe hit, clang": "METLImpt",
    "wood plank breaking, snap": "WOODBrk",
    "paper tearing": "PAPRRip",
    "crumpling a plastic bag": "PLASCrsh",
    "car engine start and idle": "VEHCar",
    "car tires screeching skid": "VEHSkid",
    "motorcycle pass by": "VEHMoto",
    "police siren wailing": "VEHSirn",
    "car horn honk": "VEHHorn",
    "steam train whistle": "TRNSteam",
    "subway train arriving": "TRNSbwy",
    "helicopter flying overhead": "AEROHeli",
    "jet airplane take off": "AEROJet",
    "rowing boat oars in water": "BOATRow",
    "pistol gunshot": "GUNPis",
    "shotgun blast": "GUNShotg",
    "machine gun automatic fire": "GUNAuto",
    "bullet ricochet": "BLLTRico",
    "sword clash, blades": "WEAPSwrd",
    "bow and arrow release": "WEAPBow",
    "big explosion, debris": "EXPLReal",
    "fireworks bursting": "FRWKComr",
    "campfire crackling": "FIRECrkl",
    "water dripping in a cave": "WATRDrip",
    "waves crashing on the beach": "WATRWave",
    "waterfall": "WATRFall",
    "pouring water into a glass": "WATRPour",
    "boiling bubbling liquid": "LIQBubl",
    "whoosh pass by": "WHSH",
    "cinematic riser build up": "DSGNRise",
    "dark drone, eerie": "DSGNDron",
    "magic spell casting": "MAGSpel",
    "sci-fi laser beam": "LASRBeam",
    "spaceship engine hum": "SCIShip",
    "robot voice": "ROBTVox",
    "computer keyboard typing": "CMPTKey",
    "user interface button click": "UIClick",
    "alarm clock ringing": "ALRMClok",
    "church bell toll": "BELLLrg",
    "clock ticking": "CLOCKTick",
    "crowd cheering in a stadium": "CRWDCheer",
    "audience applause": "CRWDApls",
    "walla, restaurant crowd murmur": "CRWDWalla",
    "baby crying": "VOXBaby",
    "woman screaming": "VOXScrm",
    "man coughing": "HMNCough",
    "heartbeat": "HMNHart",
    "punch to the face": "FGHTImpt",
    "cloth rustle, jacket movement": "CLOTHMvmt",
    "keys jingling": "OBJKey",
    "zipper opening": "OBJZipr",
    "power drill": "TOOLPowr",
    "chainsaw cutting": "TOOLPowr",
    "electric spark zap": "ELECSprk",
    "cartoon boing": "TOONBoing",
}


def main() -> None:
    top1 = top3 = 0
    misses = []
    for prompt, expected in PROMPTS.items():
        found = [c.catid for c in ucs.suggest(prompt)]
        top1 += found[:1] == [expected]
        top3 += expected in found
        if expected not in found:
            misses.append(f"  {prompt!r}: expected {expected}, suggested {', '.join(found) or 'nothing'}")
    n = len(PROMPTS)
    print(f"UCS CatID suggestions on {n} prompts: top-1 {100 * top1 / n:.0f} %, top-3 {100 * top3 / n:.0f} % "
          "(target top-3 ≥ 80 %)")
    if misses:
        print("not in the top 3:", *misses, sep="\n")


if __name__ == "__main__":
    main()
