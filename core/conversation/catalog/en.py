"""English: every sentence Homeward says in chat. A translation is a copy of this file."""

MESSAGES: dict[str, str] = {
    # First contact and consent
    "welcome": (
        "Hello, this is Homeward. We help families find missing people.\n\n"
        "If you report a missing person or send a photo of someone you saw, we keep the photos "
        "and the faces in them, and compare them with other reports. Only Homeward's reviewers "
        "see possible matches; whoever sends a sighting never learns whom it matched. "
        "You can erase everything you sent at any time by writing 'delete my data'.\n\n"
        "Do you agree? Reply yes or no.\n\n"
        "हिंदी में बात करने के लिए 'भाषा' लिखें।"
    ),
    "photo_again_after_consent": "I have not kept the photo you sent. Once you agree, please send it again.",
    "consent_reask": "Please reply yes or no: may Homeward keep the photos and details you send, as described above?",
    "consent_declined": "Understood: nothing has been stored. Write 'hi' if you change your mind.",
    "consent_thanks": "Thank you.",
    # A case an organisation registered with the family's WhatsApp number: asked first, then followed
    "partner_case_consent": (
        "Hello, this is Homeward. We help families find missing people.\n\n"
        "{organisation} has reported that {name} is missing (report {reference}) and gave us this number, "
        "saying you agreed that we write to you. If you agree, we will tell you here when a reviewer finds "
        "a possible match, and keep this number and your messages for that. You can erase them at any time "
        "by writing 'delete my data'.\n\n"
        "Do you agree? Reply yes or no. If you do not answer, we will not write again."
    ),
    "partner_case_followed": (
        "You will hear here about {name} (report {reference}, registered by {organisation}) "
        "when a reviewer confirms a possible match."
    ),
    "menu": (
        "What would you like to do?\n"
        "1. Report a missing person\n"
        "2. Report a sighting (or simply send a photo)\n"
        "3. My reports\n"
        "4. Delete my data\n"
        "Write 'volunteer' to hear of appeals near you.\n\n"
        "Reply with a number or a word, e.g. 'report'. 'cancel' stops anything; 'help' shows this menu."
    ),
    "menu_in_flow": "You are in the middle of something. Answer the question above to go on, or write 'cancel' to stop it.",
    "not_understood": "Sorry, I didn't understand that.",
    # Reporting a missing person
    "ask_name": "Let's report a missing person. What is their full name?",
    "ask_name_hint": "Please type the person's name (at least 2 letters).",
    "ask_name_too_long": "That is too long for a name. Please type just the person's name (at most 100 characters).",
    "ask_age": "How old is {name}? Reply with a number, or 'unknown'.",
    "ask_age_hint": "Please reply with an age in years (0 to 120), or 'unknown'.",
    "ask_gender": "What is {name}'s gender? Reply in your own words, or 'skip'.",
    "ask_place": "Where was {name} last seen? Share a location (paper clip, then Location) or type the place.",
    "ask_place_hint": "Please share a location or type the place, for example 'Central Station, platform 3'.",
    "ask_time": "When was {name} last seen? For example 'yesterday 5pm', '12/11' or '2 days ago'.",
    "ask_time_hint": "Please type when, for example 'yesterday 5pm', or 'unknown'.",
    "time_too_long_ago": "That is further back than I can use. Please say when again, for example 'yesterday 5pm'.",
    "text_shortened": "That was long, so I kept the first {limit} characters.",
    "ask_description": "Describe {name}: clothes, height, hair, anything that helps. Or 'skip'.",
    "ask_photos": "Send 1 to 5 clear photos of {name}'s face, one per message. Write 'done' when finished.",
    "ask_photos_hint": "Please send a photo of {name}, or write 'done' when finished.",
    "photos_needed": "Please send at least one photo of {name}; a face to compare is what lets us search.",
    "photo_received": "Photo {count} received.",
    "photo_received_more": "Photo {count} received. Send another, or write 'done'.",
    "photos_full": "That is {count} photos, the most I take. Write 'done' to go on.",
    "photos_so_far": "You have sent {count} photo(s) of {name}. Send more (up to 5), or write 'done'.",
    "photo_kept_for_later": "Photo {count} received; I'll use it with the report.",
    "summary": (
        "Please check the report:\n"
        "Name: {name}\nAge: {age}\nGender: {gender}\n"
        "Last seen: {place}, {time}\nDescription: {description}\nPhotos: {photos}\n\n"
        "Reply 'yes' to submit it, or 'cancel' to discard it."
    ),
    "confirm_hint": "Reply 'yes' to submit this report, or 'cancel' to discard it.",
    "case_created": (
        "Your report is registered. Its reference is {reference}.\n"
        "Write 'status {reference}' to see its progress. We will write to you here as soon as "
        "a reviewer confirms a possible sighting."
    ),
    "unknown": "unknown",
    "not_given": "not given",
    # Sightings
    "sighting_ask_photo": "Please send a photo of the person you saw.",
    "sighting_ask_place": "Thank you. Where did you see this person? Share a location or type the place.",
    "sighting_ask_place_hint": "Please share a location or type the place where you saw them.",
    "sighting_ask_time": "When did you see them? For example 'now', 'today 3pm' or '2 hours ago'.",
    "sighting_ask_note": "Anything else that helps (clothes, direction, who they were with)? Or 'skip'.",
    "sighting_ask_photo_place": "Your photo holds the place where it was taken. Use it for this sighting? yes/no",
    "sighting_photo_added": "Photo {count} added to your sighting.",
    "sighting_created": (
        "Thank you: your sighting is recorded. Its reference is {reference}.\n"
        "Our reviewers will look at it. To protect everyone involved we cannot tell you whom it may match."
    ),
    # My reports
    "cases_none": "You have not reported anyone yet. Write 'report' to start.",
    "cases_list": "Your reports:\n{lines}\n\nWrite 'status HW-…' for details, 'found HW-…' when the person is found, or 'add photo HW-…'.",
    "case_line": "{reference}: {name} ({status})",
    "case_status": "{reference}: {name}, {status}. Reported on {created}. Photos: {photos}.",
    "status_open": "open, being searched",
    "status_closed": "closed",
    "status_awaiting_photo": "open, awaiting a photo",
    # SMS: plain text, no photos
    "sms_no_photos": "Photos cannot be sent by SMS, so this report will be kept awaiting a photo.",
    "case_created_awaiting_photo": (
        "Your report is registered. Its reference is {reference}.\n"
        "It is kept awaiting a photo: we search by comparing faces, so the search starts once a photo arrives."
    ),
    "how_to_add_photo": (
        "To add a photo: on WhatsApp, from this same phone number, write 'add photo {reference}' and send it. "
        "Without WhatsApp, a partner organisation (police, shelter, hospital) can send it to Homeward for you, "
        "quoting {reference}."
    ),
    "sms_sighting_needs_photo": (
        "A sighting needs a photo, and SMS cannot carry one. Please send the photo to Homeward on WhatsApp or Telegram."
    ),
    "sms_shortened": "(Shortened for SMS. Write 'status' and your reference for the essentials.)",
    "followed_case_theirs": (
        "{reference} was registered by {organisation}, who keep it: please tell them of any news, a new photo or an "
        "appeal. You will still hear here when a reviewer confirms a possible match."
    ),
    "case_unknown": "I can't find {reference} among your reports. Write 'my reports' to list them.",
    "need_reference": "Please include the reference, for example '{command} HW-7K3P'.",
    "case_closed": "{reference} is closed. We are so glad {name} has been found. The photos no longer take part in searches.",
    "case_reunited": "{reference}: we have recorded that you and {name} are together again. We are so glad. The case is closed and the photos no longer take part in searches. Thank you for trusting Homeward; if anything is wrong, reply here.",
    "case_already_closed": "{reference} was already closed.",
    "add_photo_ask": "Send photos for {reference}, one per message, then write 'done'.",
    "add_photo_done": "Added {count} photo(s) to {reference}. They will be searched from now on.",
    "add_photo_none": "No photos added to {reference}.",
    "add_photo_closed": "{reference} is closed; reopen it by writing to us if the person is missing again.",
    # Cancel and erase
    "cancelled": "Stopped; nothing from it was kept. Write 'menu' to see what I can do.",
    "nothing_to_cancel": "There is nothing to cancel. Write 'menu' to see what I can do.",
    "erase_confirm": (
        "This erases everything you sent to Homeward: your reports, sightings, photos and this "
        "conversation. Your reports will no longer be searched. Reply 'delete' to confirm, or 'cancel'."
    ),
    "erase_hint": "Reply 'delete' to erase everything, or 'cancel' to keep it.",
    "erased": "Done: everything you sent to Homeward has been erased. Write 'hi' if you ever need us again.",
    # After a reviewer's approval
    "match_found": (
        "A Homeward reviewer has confirmed a possible sighting of {name} (report {reference}).\n"
        "Sighting {sighting}: {place}\nWhen: {time}\n\n"
        "What to do next: give both references to the police or whoever is leading the search, "
        "and please do not go there alone. Write 'status {reference}' at any time."
    ),
    "found_person": (
        "A Homeward reviewer has found a person who may be {name} (report {reference}): "
        "they are in the care of {organisation}.\n"
        "Address: {address}\nPhone: {phone}\nHours: {hours}\n\n"
        "What to do next: contact {organisation} and quote both references, {reference} and {found}{their_reference}, "
        "so they know whom you are asking about. Please go with identification. Write 'status {reference}' at any time."
    ),
    "found_person_deceased": (
        "A Homeward reviewer needs you to contact {organisation} about {name} (report {reference}). "
        "We are very sorry: this concerns a person recorded there as deceased, who may be your relative, "
        "and it may not be them.\n"
        "Address: {address}\nPhone: {phone}\nHours: {hours}\n\n"
        "Please contact them, if you can with someone close to you, and quote both references, "
        "{reference} and {found}{their_reference}. They will tell you what they know and what happens next."
    ),
    # Files we can't use
    "unsupported_video": "I can only use photos, not videos. Please send a still photo; a screenshot of the video works.",
    "unsupported_audio": "I can't listen to voice messages. Please type your answer.",
    "unsupported_document": "I can't use that kind of file. Please send a photo (JPEG or PNG).",
    "unsupported_sticker": "Stickers can't be used. Please send a photo or type your answer.",
    "file_too_large": "That file is too large ({size_mb} MB). Please send a photo smaller than {limit_mb} MB.",
    "rate_limited": "You are sending messages very quickly, so I'll pause for a minute. Please wait a little before writing again.",
    "message_failed": "Sorry, something went wrong with your last message. Please send it again, or write 'help'.",
    "private_chat_only": "I can only help in a private chat: in a group, everyone would share one report. Please open a chat with me directly (tap my name, then Message) and write 'hi' there.",
    # After a worker has looked at a photo
    "feedback_no_face": "I couldn't find a face in photo {count}. Please send one where the face is clearly visible and turned towards the camera.",
    "feedback_too_small": "The face in photo {count} is very small. A closer photo would help a lot.",
    "feedback_blurred": "Photo {count} is blurred. A sharper photo would help a lot.",
    "feedback_several_faces_case": "Photo {count} shows {faces} faces. Please send a photo where only {name} can be seen, or crop it to their face.",
    "feedback_unreadable": "I couldn't open photo {count}: {why} Please send it again as a normal photo.",
    "feedback_failed": "I couldn't read photo {count}, even after several tries. Please send another one.",
    "video_failed": "I couldn't read that video, even after several tries. Please send another clip, or a still photo of the person.",
    "video_too_long": "That video is too long: I can use clips of up to {limit} seconds. Please send a shorter clip, or a still photo.",
    "video_unreadable": "I couldn't open that video. Please send it again, or send a still photo of the person.",
    "video_no_face": "I couldn't find a face in that video. Please send a clip or a photo where the face is clearly visible.",
    "video_case_refused": "For a missing-person report please send photos, not a video: a clear still photo of the face is what we compare. A screenshot of the video works too.",
    "why_not_an_image": "it is not an image.",
    "why_video": "it is a video.",
    "why_too_large_file": "the file is too large.",
    "why_too_many_pixels": "the picture is too large.",
    "why_truncated": "the file is damaged or incomplete.",
    "why_empty": "the file is empty.",
    # Choosing a language
    "language_set": "I will write to you in English from now on. (हिंदी के लिए 'भाषा' लिखें।)",
    "language_choose": "Write 'language en' for English or 'भाषा हिंदी' for Hindi.",
    # Appeals: a public poster, only when the family asks and a reviewer agrees
    "appeal_ask_photo": "Let's prepare a public appeal for {name} ({reference}): a poster and a web page anyone can share. You choose what it shows, and a Homeward reviewer checks it before anything is public.\n\nShow {name}'s photo on it? Reply yes or no.",
    "appeal_ask_name": "Show the first name only, or the full name?\n1. First name only\n2. Full name",
    "appeal_ask_age": "Show {name}'s age? Reply yes or no.",
    "appeal_ask_place": "Show where and when {name} was last seen (the area and the date, never an exact address)? Reply yes or no.",
    "appeal_ask_description": "One line for the poster, for example the clothes they wore (at most 120 characters). Or 'skip'.",
    "appeal_summary": "Your appeal will show:\nPhoto: {photo}\nName: {name}\nAge: {age}\nLast seen: {place}\nDescription: {description}\n\nReply 'yes' to send it to a reviewer, or 'cancel'.",
    "appeal_requested": "Thank you. Your appeal {appeal} is waiting for a Homeward reviewer; we will write to you here once they have looked at it. Write 'withdraw appeal' at any time to stop it.",
    "appeal_yes_no": "Please reply yes or no.",
    "appeal_name_choice": "Please reply 1 (first name only) or 2 (full name).",
    "appeal_shown": "shown",
    "appeal_hidden": "not shown",
    "appeal_case_closed": "{reference} is closed, so there can be no appeal for it.",
    "appeal_no_photo": "{reference} has no photo with a clear face yet, and an appeal needs one. Write 'add photo {reference}' to send one.",
    "appeal_already": "There is already an appeal for {reference} ({appeal}). Write 'withdraw appeal' to stop it.",
    "appeal_approved": "Your appeal {appeal} for {name} is public. Share this poster, or the page: {page}\nA PDF to print: {pdf}\nWhoever scans the code can tell Homeward directly. Write 'withdraw appeal' at any time to take it down.",
    "appeal_refused": "A Homeward reviewer decided not to publish the appeal {appeal} for {name}: {reason}\nYour report {reference} is still being searched.",
    "appeal_ended_family": "The appeal {appeal} has been taken down: its page and posters no longer work. Please delete the posters and links you forwarded, and ask those you sent them to do the same.",
    "appeal_pdf": "The poster to print or forward (A4, PDF).",
    "appeal_withdrawn": "Understood: the appeal {appeal} is being taken down.",
    "appeal_none": "You have no appeal running.",
    "appeal_ended": "This appeal has ended. Thank you.",
    "appeal_unknown": "I can't find the appeal {appeal}. Please check the code, or write 'hi' to see what I can do.",
    "appeal_scanned": "Thank you for looking at appeal {appeal}. If you have seen this person, please send a photo if you have one, or write 'skip' to tell us without one.",
    "sighting_ask_photo_or_skip": "Please send a photo of the person you saw, or write 'skip' to go on without one.",
    # The poster (drawn, not sent as a message)
    # The public page of an appeal
    "page_age": "Age",
    "page_last_seen": "Last seen",
    "page_description": "Description",
    "page_seen": "Have you seen this person?",
    "page_tell": "Tell Homeward, with the appeal's reference {appeal}:",
    "page_careful": "Please do not approach them yourself.",
    "page_share": "Share it",
    "page_pdf": "Poster to print (PDF, A4)",
    "page_png": "Poster (PNG, A4)",
    "page_phone": "Poster for phones (PNG)",
    "page_ends": "This page and the posters stop working as soon as the appeal ends.",
    "poster_title": "MISSING",
    "poster_age": "Age: {age}",
    "poster_last_seen": "Last seen: {where}",
    "poster_scan": "Have you seen this person? Scan the code or open the link to tell Homeward.",
    "poster_reference": "Appeal {reference}",
    # Volunteers near a last-seen place (core/conversation/volunteer.py)
    "volunteer_ask_place": "Thank you for helping. Where should alerts reach you? Share your location (the paperclip, then Location), or type your city.",
    "volunteer_share_location": "I don't know that place well enough to find people near it. Please share your location instead (the paperclip, then Location), or type a large city's name.",
    "volunteer_ask_radius": "How far from you should a missing person have been last seen for you to hear of it? Reply 2, 10 or 50 (km).",
    "volunteer_ask_quiet": "Quiet hours, when I should not write to you: reply e.g. '22-7' (from 22:00 to 7:00), or 'none'.",
    "volunteer_quiet_hint": "Please give two hours of the day, e.g. '22-7', or 'none'.",
    "volunteer_ask_cap": "At most how many alerts a week? Reply a number from 1 to 20, or 'skip' for {cap}.",
    "volunteer_enrolled": "You are a Homeward volunteer: you will get appeals for people last seen within {radius} km of {place}, at most {cap} a week. Write 'stop' at any time to end it.",
    "volunteer_stopped": "Done: you will get no more alerts. Write 'volunteer' to start again.",
    "volunteer_not": "You get no alerts from Homeward. Write 'volunteer' to help find people near you.",
    "volunteer_alert": "Can you help? {name} is missing, last seen near you. If you have seen this person, open the appeal: {page}\nYou get this because you volunteered; write 'stop' to end the alerts.",
}
